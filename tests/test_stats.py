"""The dashboard's statistics against values worked out by hand and from normal tables."""

import math

import pytest

from oscar_recovery.reporting import statistics as stats


def test_rate_is_none_without_trials():
    assert stats.rate(3, 0) is None
    assert stats.rate(1, 4) == 0.25


def test_critical_value_of_95_percent():
    assert stats.z_critical(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_z_test_200_of_1000_against_250_of_1000():
    # pooled p = 450/2000 = 0.225; se = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = 0.0186748
    # z = 0.05 / 0.0186748 = 2.6774; normal table: 2 * (1 - Phi(2.6774)) = 0.00742
    result = stats.two_proportion_z_test(200, 1000, 250, 1000)
    assert result.z == pytest.approx(2.6774, abs=1e-4)
    assert result.p_value == pytest.approx(0.00742, abs=1e-5)
    assert result.difference == pytest.approx(0.05)


def test_z_test_50_of_100_against_60_of_100_is_not_significant():
    # pooled p = 0.55; se = sqrt(0.55 * 0.45 * 0.02) = 0.070356; z = 0.1 / 0.070356 = 1.4213
    result = stats.two_proportion_z_test(50, 100, 60, 100)
    assert result.z == pytest.approx(1.4213, abs=1e-4)
    assert result.p_value == pytest.approx(0.1552, abs=1e-4)


def test_z_test_is_symmetric():
    forward = stats.two_proportion_z_test(200, 1000, 250, 1000)
    backward = stats.two_proportion_z_test(250, 1000, 200, 1000)
    assert backward.z == pytest.approx(-forward.z)
    assert backward.p_value == pytest.approx(forward.p_value)


def test_z_of_1_96_gives_p_of_0_05():
    # p = erfc(1.959964 / sqrt 2) = 0.05 by definition of the critical value.
    assert math.erfc(stats.z_critical(0.95) / math.sqrt(2)) == pytest.approx(0.05)


@pytest.mark.parametrize("counts", [(0, 0, 5, 10), (5, 10, 0, 0), (0, 10, 0, 10), (10, 10, 5, 5)])
def test_z_test_undefined_without_trials_or_variation(counts):
    assert stats.two_proportion_z_test(*counts) is None


def test_z_test_gives_no_answer_below_the_minimum_trials():
    # The prompts' figures read no p-value off fewer than their minimum shown per arm.
    assert stats.two_proportion_z_test(50, 100, 60, 99, minimum_trials=100) is None
    assert stats.two_proportion_z_test(50, 99, 60, 100, minimum_trials=100) is None
    result = stats.two_proportion_z_test(50, 100, 60, 100, minimum_trials=100)
    assert result.p_value == pytest.approx(0.1552, abs=1e-4)


def test_wald_interval_of_a_difference():
    # 0.6 - 0.5 = 0.1; se = sqrt(0.5*0.5/100 + 0.6*0.4/100) = sqrt(0.0049) = 0.07
    # 0.1 -/+ 1.96 * 0.07 = [-0.0372, 0.2372]
    interval = stats.difference_interval(50, 100, 60, 100)
    assert interval.estimate == pytest.approx(0.1)
    assert interval.low == pytest.approx(-0.0372, abs=1e-4)
    assert interval.high == pytest.approx(0.2372, abs=1e-4)
    assert not interval.excludes_zero
    assert stats.difference_interval(10, 1000, 100, 1000).excludes_zero


def test_wald_interval_at_90_percent_is_narrower():
    # z(0.90) = 1.644854: 0.1 -/+ 0.115140
    interval = stats.difference_interval(50, 100, 60, 100, confidence=0.90)
    assert interval.low == pytest.approx(0.1 - 1.644854 * 0.07, abs=1e-6)


def test_sample_size_for_10_to_15_percent():
    # Fleiss: (1.96 * sqrt(2 * 0.125 * 0.875) + 0.8416 * sqrt(0.09 + 0.1275))^2 / 0.05^2
    #        = (0.91671 + 0.39250)^2 / 0.0025 = 685.6 -> 686 per arm
    assert stats.sample_size_per_arm(0.10, 0.05) == 686


def test_sample_size_rejects_impossible_rates():
    with pytest.raises(ValueError):
        stats.sample_size_per_arm(0.0, 0.05)
    with pytest.raises(ValueError):
        stats.sample_size_per_arm(0.98, 0.05)
    with pytest.raises(ValueError):
        stats.sample_size_per_arm(0.5, 0.0)


def test_normal_approximation_needs_five_of_each():
    assert stats.enough_for_normal_approximation(5, 10)
    assert not stats.enough_for_normal_approximation(4, 100)
    assert not stats.enough_for_normal_approximation(96, 100)


def test_verdict_keeps_running_until_both_arms_reach_the_sample_size():
    # Already "significant" (p = 0.0051), but the variant arm has 200 of the 300 planned.
    result = stats.ab_verdict((30, 300), (40, 200), sample_size=300)
    assert result.verdict == stats.Verdict.KEEP_RUNNING
    assert result.progress == pytest.approx(200 / 300)


def test_verdicts_at_the_sample_size():
    assert stats.ab_verdict((20, 200), (40, 200), 200).verdict == stats.Verdict.BETTER
    assert stats.ab_verdict((40, 200), (20, 200), 200).verdict == stats.Verdict.WORSE
    assert stats.ab_verdict((50, 100), (60, 100), 100).verdict == stats.Verdict.NO_DIFFERENCE
    assert stats.ab_verdict((0, 100), (0, 100), 100).verdict == stats.Verdict.NO_DIFFERENCE


def test_system_checks_of_the_dashboard_settings(settings):
    from oscar_recovery.checks import check_dashboard_settings

    assert check_dashboard_settings(None) == []
    settings.OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS = 7
    settings.OSCAR_RECOVERY_AB_SAMPLE_SIZE = 0
    settings.OSCAR_RECOVERY_LIFT_CONFIDENCE = 95
    assert [problem.id for problem in check_dashboard_settings(None)] == [
        "oscar_recovery.W601",
        "oscar_recovery.E601",
        "oscar_recovery.E602",
    ]
