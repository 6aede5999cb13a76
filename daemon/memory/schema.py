"""The memory component's tables: insights, memories, their history, the curator's decisions,
and the links between memories and Open WebUI's copies of them."""

from __future__ import annotations

COMPONENT = "memory"
MIGRATIONS: list[str] = [
    """
    CREATE TABLE memory_insights (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        agent TEXT NOT NULL,
        run_id TEXT,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        evidence TEXT NOT NULL,
        request_ids TEXT NOT NULL,
        importance REAL NOT NULL,
        confidence REAL NOT NULL,
        actionability REAL,
        tags TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        decision TEXT,
        memory_id TEXT
    )
    """,
    "CREATE INDEX memory_insights_ts ON memory_insights(ts)",
    """
    CREATE TABLE memory_items (
        id TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        last_confirmed REAL NOT NULL,
        confirmations INTEGER NOT NULL DEFAULT 1,
        importance REAL NOT NULL,
        confidence REAL NOT NULL,
        tags TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        audience TEXT,
        vector BLOB,
        supersedes TEXT,
        superseded_by TEXT,
        insight_ids TEXT NOT NULL
    )
    """,
    "CREATE INDEX memory_items_status ON memory_items(status)",
    """
    CREATE TABLE memory_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        memory_id TEXT NOT NULL,
        ts REAL NOT NULL,
        action TEXT NOT NULL,
        text TEXT,
        detail TEXT
    )
    """,
    "CREATE INDEX memory_history_memory ON memory_history(memory_id)",
    """
    CREATE TABLE memory_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        insight_id TEXT NOT NULL,
        action TEXT NOT NULL,
        memory_id TEXT,
        scores TEXT NOT NULL,
        reasons TEXT NOT NULL
    )
    """,
    "CREATE INDEX memory_decisions_insight ON memory_decisions(insight_id)",
    """
    CREATE TABLE memory_openwebui_users (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        label TEXT NOT NULL,
        created REAL NOT NULL,
        legacy INTEGER,
        last_sync REAL,
        last_error TEXT
    )
    """,
    """
    CREATE TABLE memory_openwebui_links (
        user_id TEXT NOT NULL,
        memory_id TEXT NOT NULL,
        remote_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        synced REAL NOT NULL,
        PRIMARY KEY (user_id, memory_id)
    )
    """,
]
