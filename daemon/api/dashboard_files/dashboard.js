// The Roundhouse dashboard: reads the control API, follows its event stream, nothing else.
"use strict";

(function () {
  // A token given once as #token=rh-... (a fragment never reaches the server or its logs).
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    sessionStorage.setItem("roundhouse-token", given);
    history.replaceState(null, "", location.pathname);
  }
  const token = sessionStorage.getItem("roundhouse-token");
  const headers = token ? { authorization: "Bearer " + token } : {};
  const $ = (id) => document.getElementById(id);
  const requests = [];

  async function api(path, method = "GET") {
    const response = await fetch(path, { method, headers, credentials: "omit" });
    if (!response.ok) throw new Error(path + ": " + response.status);
    return response.json();
  }

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  const ms = (v) => (v === null || v === undefined ? "–" : Math.round(v) + " ms");
  const usd = (v) => "$" + Number(v || 0).toFixed(4);

  function routeOf(r) {
    if (r.local === true) return "local";
    if (r.local === false) return "cloud";
    return r.tier || "";
  }

  function renderRequests() {
    const body = $("requests").tBodies[0];
    body.replaceChildren();
    for (const r of requests.slice(0, 50)) {
      const row = el("tr", undefined, { "data-id": r.id });
      if (r.fresh) row.className = "new";
      const when = new Date((r.ts || r.received_at || 0) * 1000).toLocaleTimeString();
      const why = (r.reasons || (r.route && r.route.reasons) || []).join("; ");
      for (const cell of [when, r.app, r.model_used || r.model_asked, routeOf(r), r.status,
        ms(r.latency_ms), ms(r.ttft_ms), r.cache, why]) row.append(el("td", String(cell ?? "")));
      body.append(row);
    }
    const minute = Date.now() / 1000 - 60;
    const recent = requests.filter((r) => (r.ts || r.received_at) >= minute);
    const count = (key) => recent.reduce((m, r) => ((m[key(r)] = (m[key(r)] || 0) + 1), m), {});
    const hits = requests.filter((r) => r.cache === "hit").length;
    $("summary").textContent =
      `${recent.length} requests in the last minute · by route ${JSON.stringify(count(routeOf))}` +
      ` · by app ${JSON.stringify(count((r) => r.app))} · by model ${JSON.stringify(count((r) => r.model_used))}` +
      ` · cache hits ${hits}/${requests.length}`;
  }

  function gauge(label, spent, limit) {
    const box = el("div");
    box.append(el("div", `${label}: ${usd(spent)}` + (limit ? ` of ${usd(limit)}` : " (no budget)")));
    const bar = el("div", undefined, { class: "bar" + (limit && spent >= limit ? " over" : "") });
    const fill = el("div");
    fill.style.width = (limit ? Math.min(100, (spent / limit) * 100) : 0) + "%";
    bar.append(fill);
    box.append(bar);
    return box;
  }

  async function loadRequests() {
    const rows = (await api("/control/v1/requests?limit=200")).requests;
    requests.splice(0, requests.length, ...rows);
    renderRequests();
  }

  async function loadSpend() {
    const s = await api("/control/v1/spend");
    const overall = s.budgets.overall;
    $("spend").replaceChildren(
      gauge("Today", overall.daily.spent_usd, overall.daily.budget_usd),
      gauge("This month", overall.monthly.spent_usd, overall.monthly.budget_usd),
      el("div", `Forecast for the month: ${usd(s.forecast.forecast_usd)} · saved by local: ${usd(s.saved.saved_usd)}`),
    );
  }

  async function loadCache() {
    const c = await api("/control/v1/cache");
    $("cache").textContent = `hits: exact ${c.hits.exact}, semantic ${c.hits.semantic} · misses ${c.misses}` +
      ` · hit rate ${Math.round(c.hit_rate * 100)}% · ${c.entries} entries`;
  }

  function action(label, path, then) {
    const button = el("button", label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try { await api(path, "POST"); } finally { await then(); }
    });
    return button;
  }

  async function loadModels() {
    const status = await api("/control/v1/status");
    $("status").textContent = `v${status.version} · ${status.mode} · backends: ` +
      Object.entries(status.backends).map(([n, b]) => `${n} ${b.ok ? "ok" : "down"}`).join(", ");
    let residency;
    try { residency = await api("/control/v1/residency"); } catch { residency = null; }
    const list = $("models");
    list.replaceChildren();
    if (!residency) {
      for (const id of status.loaded_models) list.append(el("li", id));
      return;
    }
    $("gpus").textContent = residency.gpus.map((g) =>
      `GPU ${g.index} ${g.name}: ${(g.used_bytes / 2 ** 30).toFixed(1)} / ${(g.total_bytes / 2 ** 30).toFixed(1)} GiB`,
    ).join(" · ") || residency.detail || "";
    for (const m of residency.models.filter((m) => m.resident || m.pinned)) {
      const item = el("li", `${m.id} (${m.backend}) ${(m.size_vram / 2 ** 30).toFixed(1)} GiB `);
      const body = JSON.stringify({ model: m.id });
      for (const [label, path] of [[m.pinned ? "Unpin" : "Pin", m.pinned ? "unpin" : "pin"], ["Unload", "unload"]]) {
        const b = el("button", label);
        b.addEventListener("click", async () => {
          await fetch("/control/v1/residency/" + path, {
            method: "POST", body, credentials: "omit", headers: { ...headers, "content-type": "application/json" },
          });
          loadModels();
        });
        item.append(b);
      }
      list.append(item);
    }
  }

  async function loadAgents() {
    let a;
    try { a = await api("/control/v1/agents"); } catch { return; }
    const list = $("agents");
    list.replaceChildren();
    for (const agent of a.agents) {
      const last = agent.last_result;
      const text = `${agent.name}${agent.paused ? " (paused)" : ""}: ` +
        (last ? `${last.status}, ${(last.insights || []).length} findings` : "no run yet");
      const item = el("li", text + " ");
      item.append(action(agent.paused ? "Resume" : "Pause",
        `/control/v1/agents/${agent.name}/${agent.paused ? "resume" : "pause"}`, loadAgents));
      list.append(item);
    }
  }

  async function loadMemories() {
    let m;
    try { m = await api("/control/v1/memory?status=pending"); } catch { return; }
    const list = $("memories");
    list.replaceChildren();
    if (!m.memories.length) list.append(el("li", "Nothing waiting for review."));
    for (const memory of m.memories) {
      const item = el("li", memory.text + " ", { "data-id": memory.id });
      item.append(action("Approve", `/control/v1/memory/${memory.id}/approve`, loadMemories));
      item.append(action("Reject", `/control/v1/memory/${memory.id}/reject`, loadMemories));
      list.append(item);
    }
  }

  // Images: the PNGs need the token too, so they are fetched and shown as data: URLs.
  const thumbnails = new Map();
  let images = [];
  const gib = (bytes) => (bytes / 2 ** 30).toFixed(1) + " GiB";

  function thumbnail(image) {
    if (!thumbnails.has(image.id)) {
      thumbnails.set(image.id, (async () => {
        const response = await fetch(image.url, { headers, credentials: "omit" });
        if (!response.ok) throw new Error(image.url + ": " + response.status);
        const blob = await response.blob();
        return new Promise((resolve, reject) => {
          const reader = new FileReader();
          reader.onload = () => resolve(reader.result);
          reader.onerror = () => reject(reader.error);
          reader.readAsDataURL(blob);
        });
      })());
    }
    return thumbnails.get(image.id);
  }

  function comfyuiText(s) {
    if (!s.enabled) return "Image generation is off ([images] enabled = false in config.toml).";
    const c = s.comfyui;
    const where = c.url ? ` at ${c.url}` : "";
    if (!c.up) {
      return `ComfyUI: down${where}${c.detail ? " (" + c.detail + ")" : ""} · mode ${s.mode}` +
        (s.mode === "local" ? "" : ` · cloud model ${s.cloud_model}`);
    }
    const vram = c.vram_total_bytes === null ? "VRAM not reported"
      : `VRAM ${gib(c.vram_free_bytes)} free of ${gib(c.vram_total_bytes)}`;
    const checkpoints = c.checkpoints.length ? "checkpoint " + c.checkpoints.join(", ") : "no checkpoint installed";
    return `ComfyUI: up${where} · ${vram} · ${checkpoints} · mode ${s.mode}`;
  }

  function imageCard(image) {
    const card = el("figure", undefined, { class: "image", "data-id": image.id });
    const picture = el("img", undefined, { alt: image.prompt || "" });
    thumbnail(image).then((src) => { picture.src = src; }, () => {
      thumbnails.delete(image.id);
      picture.alt = "could not load the image";
    });
    const caption = el("figcaption");
    caption.append(el("div", image.prompt || "", { class: "prompt" }));
    const details = [image.steps && `${image.steps} steps`, image.seed !== null && `seed ${image.seed}`,
      image.width && `${image.width}×${image.height}`, image.model].filter(Boolean).join(" · ");
    caption.append(el("div", details, { class: "details" }));
    if (image.source === "trainer") {
      caption.append(el("span", "trainer variant", {
        class: "badge", title: image.variant_of ? "a variant of " + image.variant_of : "drawn by the image trainer",
      }));
    }
    const rating = el("div", undefined, { class: "rating" });
    const current = image.score === null ? null : Math.round(image.score);
    for (let score = 1; score <= 5; score++) {
      const button = el("button", String(score), {
        "data-score": String(score), "aria-pressed": String(current === score), title: `rate it ${score} of 5`,
      });
      button.addEventListener("click", () => rate(image.id, score));
      rating.append(button);
    }
    caption.append(rating);
    card.append(picture, caption);
    return card;
  }

  function renderImages() {
    const grid = $("images");
    grid.replaceChildren(...images.map(imageCard));
    if (!images.length) {
      grid.append(el("p", "No images yet: those drawn through /v1/images/generations show here to rate."));
    }
  }

  async function loadImages() {
    let state, recent;
    try {
      [state, recent] = await Promise.all([api("/control/v1/images"), api("/control/v1/images/recent?limit=24")]);
    } catch (error) {
      $("images-state").textContent = "Images are not available: " + error.message;
      return;
    }
    $("images-state").textContent = comfyuiText(state);
    const d = state.dataset;
    $("images-dataset").textContent = `Dataset: ${d.total} images, ${d.rated} rated, ${d.trainer} trainer variants`;
    images = recent.images;
    renderImages();
  }

  async function rate(id, score) {
    const response = await fetch(`/control/v1/images/${encodeURIComponent(id)}/rating`, {
      method: "POST", body: JSON.stringify({ score }), credentials: "omit",
      headers: { ...headers, "content-type": "application/json" },
    });
    $("images-note").textContent = response.ok ? "" : `Rating not saved (${response.status}).`;
    await loadImages();
  }

  // A plain link would not carry the token: fetch the zip, then save it from memory.
  $("images-export").addEventListener("click", async (event) => {
    event.preventDefault();
    const note = $("images-note");
    note.textContent = "Exporting…";
    const response = await fetch(event.currentTarget.href, { headers, credentials: "omit" });
    if (!response.ok) {
      note.textContent = `Export failed (${response.status}).`;
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", undefined, { href: url, download: "roundhouse-images.zip" });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    note.textContent = "";
  });

  const loaders = { request: loadRequests, spend: loadSpend, cache: loadCache, models: loadModels,
    agents: loadAgents, memory: loadMemories, images: loadImages };
  const soon = {};
  function refresh(name) {  // many events in a burst cost one reload
    clearTimeout(soon[name]);
    soon[name] = setTimeout(() => loaders[name]().catch(() => {}), 300);
  }

  function onEvent(event) {
    const kind = event.kind;
    if (kind === "request.done") {
      const seen = requests.findIndex((r) => r.id === event.data.id);
      if (seen >= 0) requests.splice(seen, 1);
      requests.unshift({ ...event.data, ts: event.data.received_at || event.ts, fresh: true });
      requests.length = Math.min(requests.length, 500);
      renderRequests();
      refresh("spend");
      refresh("cache");
      if (event.data.images) refresh("images");
    } else if (kind.startsWith("residency.") || kind.startsWith("models.")) refresh("models");
    else if (kind.startsWith("agents.")) refresh("agents");
    else if (kind.startsWith("memory.")) refresh("memory");
    else if (kind.startsWith("budget.")) refresh("spend");
    else if (kind.startsWith("images.")) refresh("images");
  }

  // The control API's event stream, read with fetch so that it can carry the token.
  async function follow(since) {
    for (;;) {
      try {
        const response = await fetch("/control/v1/events?since=" + since, { headers, credentials: "omit" });
        if (!response.ok) throw new Error(String(response.status));
        $("live").textContent = "live";
        $("live").className = "on";
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
            if (!data) continue;
            const event = JSON.parse(data);
            since = event.seq;
            onEvent(event);
          }
        }
      } catch (error) {
        $("live").textContent = "reconnecting…";
        $("live").className = "";
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  async function start() {
    // Follow from the newest event there is: what came before is in what the panels load.
    const history = await (await fetch("/control/v1/events?once=true", { headers, credentials: "omit" })).text();
    const seqs = [...history.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    await Promise.allSettled(Object.values(loaders).map((load) => load()));
    follow(seqs.length ? Math.max(...seqs) : 0);
  }

  start();
})();
