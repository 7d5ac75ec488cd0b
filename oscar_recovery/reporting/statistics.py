"""Statistics behind the dashboard's verdicts, as plain functions of counts.

Closed forms only (no SciPy): the normal distribution through :func:`math.erf` and
:class:`statistics.NormalDist`, which the standard library computes to double precision.

* :func:`two_proportion_z_test` compares an A/B variant with the control. The test is only
  honest at a sample size fixed in advance (:func:`sample_size_per_arm`): looking at the
  p-value every day and stopping when it dips below 0.05 finds "winners" that are noise.
  :func:`ab_verdict` therefore says "keep running" until both arms reach that size.
* :func:`msprt` is the test a small shop can finish: an always-valid sequential test that
  may be read every day and stopped as soon as it decides, with no planned sample size.
  The dashboard shows it beside the z-test.
* :func:`difference_interval` is the confidence interval of a difference of two rates: the
  lift of emailed journeys over the holdout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

_NORMAL = NormalDist()


def rate(successes: int | float, trials: int | float) -> float | None:
    """``successes / trials``, or None when there were no trials (not 0: "no data")."""
    return successes / trials if trials else None


def z_critical(confidence: float) -> float:
    """The two-sided critical value: 1.959963… for 95 %."""
    return _NORMAL.inv_cdf(1 - (1 - confidence) / 2)


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float
    #: Rate of the second group minus rate of the first.
    difference: float


def two_proportion_z_test(
    x1: int, n1: int, x2: int, n2: int, *, minimum_trials: int = 1
) -> ZTest | None:
    """Two-sided z-test of ``x1/n1`` against ``x2/n2`` with the pooled standard error.

    None when it cannot be computed or should not be read: a group with fewer than
    ``minimum_trials`` trials (at least one: an empty group has no rate), or no variation at
    all (every trial a success or every one a failure in both groups). The dashboard's A/B
    verdicts gate on a planned sample size of their own (:func:`ab_verdict`) and keep the
    default; the prompts' admin figures pass their minimum so noise gets no p-value.
    """
    if min(n1, n2) < max(minimum_trials, 1):
        return None
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (p2 - p1) / se
    # 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2), without cancellation for large |z|.
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return ZTest(z=z, p_value=p_value, difference=p2 - p1)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def difference_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> Interval | None:
    """Wald interval of ``x2/n2 - x1/n1`` (unpooled standard error); None for an empty group."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    margin = z_critical(confidence) * se
    difference = p2 - p1
    return Interval(difference, difference - margin, difference + margin)


def enough_for_normal_approximation(x: int, n: int, minimum: int = 5) -> bool:
    """The textbook condition for the normal approximation: at least ``minimum`` successes
    and ``minimum`` failures."""
    return x >= minimum and n - x >= minimum


def sample_size_per_arm(
    baseline: float, minimum_effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Trials per arm for a two-sided two-proportion test to detect an absolute change of
    ``minimum_effect`` from ``baseline`` with the given significance and power.

    n = (z_{1-a/2} sqrt(2 p(1-p)) + z_{1-b} sqrt(p1(1-p1) + p2(1-p2)))^2 / d^2, with p the
    mean of the two rates (Fleiss, Statistical Methods for Rates and Proportions, 1981).
    """
    if not 0 < baseline < 1 or minimum_effect == 0 or not 0 < baseline + minimum_effect < 1:
        raise ValueError("baseline and baseline + minimum_effect must lie strictly in (0, 1)")
    p1, p2 = baseline, baseline + minimum_effect
    mean = (p1 + p2) / 2
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    z_beta = _NORMAL.inv_cdf(power)
    numerator = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(numerator**2 / minimum_effect**2)


class Verdict(StrEnum):
    KEEP_RUNNING = "keep_running"
    BETTER = "better"
    WORSE = "worse"
    NO_DIFFERENCE = "no_difference"


@dataclass(frozen=True)
class ABResult:
    verdict: Verdict
    #: Trials of the smaller arm over the fixed sample size, capped at 1.
    progress: float
    test: ZTest | None


def ab_verdict(
    control: tuple[int, int], variant: tuple[int, int], sample_size: int, alpha: float = 0.05
) -> ABResult:
    """Judge a variant against the control on ``(successes, trials)`` pairs, once both arms
    reached ``sample_size`` trials; before that the only honest answer is "keep running"."""
    (x1, n1), (x2, n2) = control, variant
    progress = min(1.0, min(n1, n2) / sample_size) if sample_size > 0 else 1.0
    test = two_proportion_z_test(x1, n1, x2, n2)
    if min(n1, n2) < sample_size:
        return ABResult(Verdict.KEEP_RUNNING, progress, test)
    if test is None or test.p_value >= alpha:
        return ABResult(Verdict.NO_DIFFERENCE, progress, test)
    return ABResult(Verdict.BETTER if test.difference > 0 else Verdict.WORSE, progress, test)


# --- Always-valid sequential test (mSPRT) -------------------------------------------------
#: Standard deviation of the normal mixture prior on the true difference of the two rates
#: (absolute: 0.05 = 5 percentage points), the size of effect the test is most sensitive
#: to. A shop sending a few hundred emails per arm can only ever see differences of that
#: order; a smaller tau suits shops with far more traffic and smaller expected effects.
MSPRT_TAU = 0.05


@dataclass(frozen=True)
class SequentialTest:
    #: The mixture likelihood ratio Lambda_n.
    likelihood_ratio: float
    #: Always-valid p-value: min(1, 1 / Lambda_n).
    p_value: float
    #: Rate of the variant minus rate of the control.
    difference: float
    verdict: Verdict


def msprt(
    control: tuple[int, int],
    variant: tuple[int, int],
    alpha: float = 0.05,
    tau: float = MSPRT_TAU,
) -> SequentialTest | None:
    """Mixture sequential probability ratio test of ``variant`` against ``control`` on
    ``(successes, trials)`` pairs (Johari, Pekelis and Walsh, "Always valid inference",
    2017), on the normal approximation of the difference d = p2 - p1 with variance
    V = p(1-p)(1/n1 + 1/n2) (p pooled) and a N(0, tau^2) prior on the true difference:

        Lambda_n = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

    Under "no difference" Lambda_n is a martingale with mean 1, so by Ville's inequality it
    ever reaches 1/alpha with probability at most alpha, *however often it is looked at and
    whenever the test is stopped*. The verdict is BETTER or WORSE once Lambda_n >= 1/alpha,
    otherwise KEEP_RUNNING: a sequential test never concludes "no difference" by itself.

    None when it cannot be read: an arm with fewer than 5 successes or 5 failures (the
    normal approximation), or no variation at all.
    """
    (x1, n1), (x2, n2) = control, variant
    if not (enough_for_normal_approximation(x1, n1) and enough_for_normal_approximation(x2, n2)):
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0 or tau <= 0:
        return None
    difference = x2 / n2 - x1 / n1
    tau2 = tau * tau
    log_ratio = 0.5 * math.log(variance / (variance + tau2)) + (tau2 * difference**2) / (
        2 * variance * (variance + tau2)
    )
    # exp overflows past ~709; such a ratio is far beyond any 1/alpha anyway.
    ratio = math.exp(min(log_ratio, 700.0))
    p_value = min(1.0, 1 / ratio)
    if ratio >= 1 / alpha:
        verdict = Verdict.BETTER if difference > 0 else Verdict.WORSE
    else:
        verdict = Verdict.KEEP_RUNNING
    return SequentialTest(ratio, p_value, difference, verdict)
