from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.delivery.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_processes_worth_of_metrics_count_apart() -> None:
    # Each runtime has its own registry: a second one neither fails nor shares counts.
    first, second = Metrics(), Metrics()
    first.answers_recorded.inc(3)
    assert samples(first)[("consultbot_answers_recorded_total", ())] == 3
    assert samples(second)[("consultbot_answers_recorded_total", ())] == 0


def test_a_slow_ack_is_counted_and_an_unknown_request_type_is_not_a_label() -> None:
    metrics = Metrics()
    metrics.observe_request("view_submission", 3.5)
    metrics.observe_request("view_submission", 0.05)
    metrics.observe_request("U0M001 wrote this", 0.01)  # the type comes from the body
    seen = samples(metrics)
    assert seen[("consultbot_slack_acks_over_3s_total", (("kind", "view_submission"),))] == 1
    assert seen[("consultbot_slack_request_seconds_count", (("kind", "view_submission"),))] == 2
    assert seen[("consultbot_slack_request_seconds_count", (("kind", "other"),))] == 1
    assert "U0M001" not in metrics.exposition().decode()


def test_slack_errors_keep_slack_words_only() -> None:
    metrics = Metrics()
    metrics.slack_error("chat.postMessage", "channel_not_found")
    metrics.slack_error("chat.postMessage", "<@U0M001> not found")
    seen = samples(metrics)
    method = ("method", "chat.postMessage")
    assert (
        seen[("consultbot_slack_api_errors_total", (("error", "channel_not_found"), method))] == 1
    )
    assert seen[("consultbot_slack_api_errors_total", (("error", "other"), method))] == 1
