"""The routing policy as a pure function: privacy, mode, budget, residency, context, cascade."""

from __future__ import annotations

import pytest

from roundhouse.daemon.models import ModelInfo
from roundhouse.daemon.routing.complexity import Verdict
from roundhouse.daemon.routing.policy import Signals, decide
from roundhouse.daemon.routing.route import RoutingError
from roundhouse.daemon.routing.settings import RoutingSettings
from roundhouse.daemon.routing.tiers import tier_map

REASONER = ModelInfo(
    "ollama/deepseek-r1:14b", "ollama", "deepseek-r1:14b", True, parameter_size="14B", context_length=32768
)
CODER = ModelInfo(
    "ollama/qwen2.5-coder:7b", "ollama", "qwen2.5-coder:7b", True, parameter_size="7B", context_length=32768
)
TINY = ModelInfo(
    "local/smollm2-135m", "embedded", "smollm2-135m", True, parameter_size="135M", context_length=2048
)
GPT4O = ModelInfo("openai/gpt-4o", "cloud", "openai/gpt-4o", False, context_length=128000)
MINI = ModelInfo("openai/gpt-4o-mini", "cloud", "openai/gpt-4o-mini", False, context_length=128000)
CLASSIC = tier_map([REASONER, CODER, TINY, GPT4O, MINI], {})


def verdict(tier: str, margin: float = 0.6) -> Verdict:
    scores = {"fast": 0.0, "balanced": 0.0, "reasoning": 0.0, "cloud": 0.0}
    scores[tier] = 0.5 + margin / 2
    runner_up = "reasoning" if tier != "reasoning" else "balanced"
    scores[runner_up] = 0.5 - margin / 2
    return Verdict(tier, scores, 1.0, margin, True)


def signals(asked: str = "auto", tier: str = "balanced", **kwargs: object) -> Signals:
    return Signals(asked=asked, verdict=verdict(tier), tokens=200, **kwargs)  # type: ignore[arg-type]


def test_classic_setup_maps_tiers_by_size() -> None:
    assert CLASSIC["fast"] == [TINY]
    assert CLASSIC["balanced"] == [CODER]
    assert CLASSIC["reasoning"] == [REASONER]
    assert CLASSIC["cloud"] == [GPT4O, MINI]


def test_each_tier_goes_to_its_model() -> None:
    settings = RoutingSettings()
    assert decide(signals(tier="fast"), settings, CLASSIC).model == TINY
    assert decide(signals(tier="balanced"), settings, CLASSIC).model == CODER
    assert decide(signals(tier="reasoning"), settings, CLASSIC).model == REASONER
    hard = decide(signals(tier="cloud"), settings, CLASSIC)
    assert hard.model == GPT4O and hard.tier == "cloud"
    assert any("cloud" in r for r in hard.reasons)


def test_single_local_model_takes_everything_local() -> None:
    only = tier_map([TINY, GPT4O], {})
    for tier in ("fast", "balanced", "reasoning"):
        assert decide(signals(tier=tier), RoutingSettings(), only).model == TINY


@pytest.mark.parametrize("asked", ["auto", "cloud", "openai/gpt-4o"])
def test_private_content_never_leaves_the_machine(asked: str) -> None:
    explicit = GPT4O if "/" in asked else None
    plan = decide(
        signals(asked, tier="cloud", private_kinds=["secret.openai_key"]),
        RoutingSettings(),
        CLASSIC,
        explicit=explicit,
    )
    assert plan.private and plan.model.local
    assert all(m.local for m in plan.fallbacks), "a private request must not fall back to the cloud"
    assert any("secret.openai_key" in r for r in plan.reasons)


def test_private_explicit_cloud_model_can_be_refused() -> None:
    settings = RoutingSettings(on_private_cloud="refuse")
    with pytest.raises(RoutingError) as error:
        decide(signals("openai/gpt-4o", private_kinds=["pii.email"]), settings, CLASSIC, explicit=GPT4O)
    assert error.value.status == 403 and error.value.kind == "private_content"


def test_sticky_conversation_and_private_apps_stay_local() -> None:
    assert decide(signals(tier="cloud", sticky=True), RoutingSettings(), CLASSIC).model.local
    editor = decide(Signals("auto", app="editor", verdict=verdict("cloud")), RoutingSettings(), CLASSIC)
    assert editor.model.local and editor.private


def test_private_virtual_model_stays_local_and_local_never_uses_cloud_fallback() -> None:
    private = decide(signals("private", tier="cloud"), RoutingSettings(), CLASSIC)
    assert private.private and all(m.local for m in [private.model, *private.fallbacks])
    local = decide(signals("local", tier="reasoning"), RoutingSettings(), CLASSIC)
    assert local.model == REASONER and all(m.local for m in local.fallbacks)


def test_local_mode_keeps_auto_local_and_reroutes_or_refuses_cloud() -> None:
    settings = RoutingSettings(mode="local")
    plan = decide(signals(tier="cloud"), settings, CLASSIC)
    assert plan.model.local and all(m.local for m in plan.fallbacks)
    assert decide(signals("cloud"), settings, CLASSIC).model.local
    refusing = RoutingSettings(mode="local", on_cloud_blocked="refuse")
    with pytest.raises(RoutingError) as error:
        decide(signals("openai/gpt-4o"), refusing, CLASSIC, explicit=GPT4O)
    assert error.value.status == 403


def test_cloud_mode_sends_reasoning_work_to_the_cloud() -> None:
    assert not decide(signals(tier="reasoning"), RoutingSettings(mode="cloud"), CLASSIC).model.local
    assert decide(signals(tier="reasoning"), RoutingSettings(mode="hybrid"), CLASSIC).model == REASONER


def test_exhausted_budget_degrades_to_local_or_refuses() -> None:
    spent = "overall daily budget spent ($5.00 of $5.00)"
    plan = decide(signals(tier="cloud", budget_block=spent), RoutingSettings(), CLASSIC)
    assert plan.model.local and not any(not m.local for m in plan.fallbacks)
    assert any("budget" in r for r in plan.reasons)
    assert decide(signals("cloud", budget_block=spent), RoutingSettings(), CLASSIC).model.local
    for asked, explicit in (("auto", None), ("cloud", None), ("openai/gpt-4o", GPT4O)):
        with pytest.raises(RoutingError) as error:
            decide(
                signals(asked, tier="cloud", budget_block=spent),
                RoutingSettings(),
                CLASSIC,
                explicit=explicit,
                on_exhausted="refuse",
            )
        assert error.value.status == 402 and error.value.kind == "budget_exhausted"


def test_loaded_model_wins_among_equals_and_trivial_prompts_do_not_load_big_models() -> None:
    second_coder = ModelInfo("ollama/codestral:22b", "ollama", "codestral:22b", True, parameter_size="22B")
    tiers = tier_map([REASONER, CODER, TINY, second_coder], {"balanced": [CODER.id, second_coder.id]})
    plain = decide(signals(tier="balanced"), RoutingSettings(), tiers)
    assert plain.model == CODER
    warm = decide(signals(tier="balanced", loaded=frozenset({second_coder.id})), RoutingSettings(), tiers)
    assert warm.model == second_coder and any("already loaded" in r for r in warm.reasons)

    no_fast = {"fast": [], "balanced": [CODER], "reasoning": [REASONER], "cloud": []}
    trivial = decide(signals(tier="fast"), RoutingSettings(), no_fast)
    assert trivial.model == CODER, "the smaller model, not the 14B reasoner"
    trivial_warm = decide(signals(tier="fast", loaded=frozenset({REASONER.id})), RoutingSettings(), no_fast)
    assert trivial_warm.model == REASONER, "already in memory costs nothing to use"


def test_unavailable_models_are_skipped_and_become_no_fallbacks() -> None:
    plan = decide(signals(tier="balanced", unavailable=frozenset({CODER.id})), RoutingSettings(), CLASSIC)
    assert plan.model != CODER and CODER not in plan.fallbacks


def test_context_window_fallback_picks_a_model_that_fits() -> None:
    plan = decide(Signals("auto", verdict=verdict("fast"), tokens=9000), RoutingSettings(), CLASSIC)
    assert plan.model in (CODER, REASONER), "smollm2's 2048 tokens cannot hold the prompt"
    # A model asked for by name is kept (the gateway refuses a prompt too long for it).
    explicit = decide(Signals(TINY.id, tokens=9000), RoutingSettings(), CLASSIC, explicit=TINY)
    assert explicit.model == TINY and explicit.fallbacks == []


def test_a_model_of_unknown_context_is_not_taken_to_hold_any_prompt() -> None:
    unknown = ModelInfo("lmstudio/qwen", "lmstudio", "qwen", True, parameter_size="7B")
    tiers = tier_map([unknown, REASONER], {"fast": [unknown.id]})
    short = decide(Signals("auto", verdict=verdict("fast"), tokens=900), RoutingSettings(), tiers)
    assert short.model == unknown
    long = decide(Signals("auto", verdict=verdict("fast"), tokens=9000), RoutingSettings(), tiers)
    assert long.model == REASONER and unknown not in long.fallbacks


def test_non_private_local_routes_may_fall_back_to_the_cloud() -> None:
    plan = decide(signals(tier="balanced"), RoutingSettings(), CLASSIC)
    assert plan.fallbacks[-2:] == [GPT4O, MINI]
    off = decide(signals(tier="balanced"), RoutingSettings(cloud_fallback=False), CLASSIC)
    assert all(m.local for m in off.fallbacks)


def test_cascade_answers_borderline_prompts_locally_first() -> None:
    settings = RoutingSettings(cascade={"enabled": True, "margin": 0.3})
    borderline = Signals("auto", verdict=verdict("cloud", margin=0.1), tokens=100)
    plan = decide(borderline, settings, CLASSIC)
    assert plan.cascade and plan.model.local and plan.fallbacks[0] == GPT4O
    clear = decide(Signals("auto", verdict=verdict("cloud", margin=0.6), tokens=100), settings, CLASSIC)
    assert not clear.cascade and clear.model == GPT4O
    off = decide(borderline, RoutingSettings(), CLASSIC)
    assert not off.cascade and off.model == GPT4O


def test_no_cloud_model_configured_is_a_clear_error() -> None:
    local_only = tier_map([TINY], {})
    with pytest.raises(RoutingError) as error:
        decide(signals("cloud"), RoutingSettings(), local_only)
    assert error.value.status == 503 and "keys set" in str(error.value)
    assert decide(signals(tier="cloud"), RoutingSettings(), local_only).model == TINY


def test_configured_tiers_win_over_sizes() -> None:
    tiers = tier_map([REASONER, CODER, TINY, GPT4O, MINI], {"fast": [CODER.id], "cloud": [MINI.id]})
    assert tiers["fast"][0] == CODER and tiers["cloud"][0] == MINI
    assert decide(signals(tier="fast"), RoutingSettings(), tiers).model == CODER
    assert decide(signals(tier="cloud"), RoutingSettings(), tiers).model == MINI


def test_sticky_keys_follow_the_chat_id_and_a_distinctive_opening() -> None:
    from roundhouse.daemon.models import ChatRequest
    from roundhouse.daemon.routing.sticky import StickyPrivacy

    opening = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Here is my config file"},
    ]
    sticky = StickyPrivacy()
    sticky.remember(ChatRequest(model="auto", messages=opening))
    later = [*opening, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "and now?"}]
    assert sticky.is_sticky(ChatRequest(model="auto", messages=later))
    assert not sticky.is_sticky(
        ChatRequest(model="auto", messages=[{"role": "user", "content": "Here is my config"}])
    )
    sticky.remember(ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}], chat_id="c1"))
    assert sticky.is_sticky(
        ChatRequest(model="auto", messages=[{"role": "user", "content": "x"}], chat_id="c1")
    )
    assert not sticky.is_sticky(ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}]))
