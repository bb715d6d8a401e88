"""Scenario schema: every parameter of the model with its type, unit, default, allowed range and source.

A scenario file (TOML) fills this schema; fields it leaves out take the defaults written here, or a
parent's values when the file says ``extends = "other"``. Each field carries its unit and source in
``json_schema_extra`` so that ``docs/ODD.md`` and ``frontiersim scenarios show`` can list them.
Source keys in square brackets refer to rows of the calibration table in ``docs/ODD.md``.
"""

from __future__ import annotations

import math

import functools
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .months import FIRST_MONTH, LAST_MONTH, HorizonError, check_end, check_month, check_start, month_index
# (MONTH_RE, month_index and index_month are imported from here by much of the project; HorizonError by the loader)
from .months import MONTH_RE, index_month  # noqa: F401


def P(default: Any, unit: str, source: str, desc: str, **kw: Any) -> Any:
    """A documented parameter: default, unit, source (or 'assumption: reason') and description."""
    return Field(default, description=desc, json_schema_extra={"unit": unit, "source": source}, **kw)


@functools.lru_cache(maxsize=None)
def _scalar_type(ann: Any) -> Any:
    """``bool``, ``int`` or ``float`` for a field of that type (optional or not), else None."""
    import types
    import typing

    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else None
    return ann if ann in (bool, int, float) else None


class AssignmentError(ValidationError):
    """A rejected assignment to a scenario or to one of its sections: the ValidationError pydantic
    raises for an assignment, with a one-line message ``FIELD.PATH: what was expected``."""

    def __str__(self) -> str:
        return self.errors()[0]["msg"]


def _assignment_error(problem: str) -> AssignmentError:
    detail = InitErrorDetails(type=PydanticCustomError("value_error", "{problem}", {"problem": problem}),
                              loc=(), input=None)
    return AssignmentError.from_exception_data("Scenario", [detail])


#: id of a section -> weak references to the scenarios holding it (set by Scenario._adopt), so
#: that an assignment to the section runs its scenarios' whole-scenario checks
_OWNERS: dict[int, list[weakref.ref]] = {}


class Section(BaseModel):
    """Base for all schema sections: unknown keys are errors, assignments are validated, floats
    must be finite, and true/false is never taken for a number (or a number for true/false)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
    _top: ClassVar[bool] = False  # (a whole scenario: its errors name their path from the top)

    def __setattr__(self, name: str, value: Any) -> None:
        """Assign and validate, as a whole: the field's own checks, then the whole-scenario checks
        (:meth:`Scenario._consistent`) of each scenario holding this section, so that
        ``sc.labs["x"].region = "nowhere"`` is rejected as it is in a file. A rejected assignment
        raises :class:`AssignmentError` (one line naming the field path) and leaves the section
        as it was. (Pydantic checks the field before it assigns, but a ``mode="after"`` model
        validator after: the value it rejects would stay assigned.)"""
        fields = type(self).model_fields
        owners = list(self._owners()) if name in fields or not name.startswith("_") else []
        prefix = owners[0][1] if owners else ([] if self._top else [type(self).__name__])
        if name not in fields:
            if name.startswith("_"):
                return super().__setattr__(name, value)
            import difflib

            close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
            raise _assignment_error(f"{'.'.join([*prefix, name])}: unknown field{f' (did you mean {close[0]!r}?)' if close else ''}; "
                                    f"expected a field of {'.'.join(prefix) or 'the top level'}: {', '.join(fields)}")
        before = dict(self.__dict__), set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
            for owner, _ in owners:
                owner._consistent()
        except ValueError as e:  # (a ValidationError, or the ValueError of a whole-scenario check)
            object.__setattr__(self, "__dict__", before[0])
            object.__setattr__(self, "__pydantic_fields_set__", before[1])
            if not isinstance(e, ValidationError):
                raise _assignment_error(str(e)) from None
            from .loader import describe_error

            raise _assignment_error(describe_error(e.errors()[0], prefix)[1]) from None

    def _owners(self) -> Iterator[tuple["Scenario", list[str]]]:
        """The live scenarios holding this section, each with the section's path in it."""
        for ref in _OWNERS.get(id(self), ()):
            owner = ref()
            path = None if owner is None else owner._path_of(self)
            if path is not None:
                yield owner, path

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, v: Any, info) -> Any:
        if not isinstance(v, (bool, int, float)):
            return v  # (strings, tables, lists: nothing to tell apart here)
        kind = _scalar_type(cls.model_fields[info.field_name].annotation)
        if kind in (int, float) and isinstance(v, bool):
            raise ValueError(f"expected {'an integer' if kind is int else 'a number'}, not {str(v).lower()}")
        if kind is bool and isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ValueError(f"expected true or false, not the number {v}")
        return v


class ScalingParams(Section):
    law: Literal["besiroglu", "hoffmann", "collapsed"] = P(
        "besiroglu", "-", "[chinchilla_besiroglu_*]; Hoffmann 2022 selectable",
        "Constant set of the Chinchilla loss; 'collapsed' uses L = E + K C^-gamma (Meek form).")
    collapsed_E: float = P(1.7, "nats", "[meek_loss_L0]", "Irreducible loss of the collapsed law.", gt=0)
    collapsed_K: float = P(1070.0, "-", "[meek_loss_A]", "Coefficient of the collapsed law.", gt=0)
    collapsed_gamma: float = P(0.155, "-", "[meek_loss_alpha]", "Exponent of the collapsed law.", gt=0, lt=1)
    r_star: float = P(15.4, "repetitions", "[muennighoff_R_D_star]",
                      "Muennighoff R*_D: decay constant of the value of repeated tokens.", gt=0)
    r_star_params: float = P(0.0, "repetitions",
                             "[muennighoff_R_D_star] notes R*_N ~5.3 (paper's fit 5.309); off by default: MODEL.md 4.2 keeps excess parameters at full value",
                             "Muennighoff R*_N: decay constant of the value of parameters beyond U_N, those compute-optimal for the unique tokens (0 = no decay). Past the data wall the loss uses N' = U_N + U_N R*_N (1 - exp(-R_N/R*_N)), R_N = N/U_N - 1, and the allocation minimises it.", ge=0)
    synthetic_quality: float = P(0.3, "fraction", "assumption (MODEL.md 4.2 default)",
                                 "Quality discount q: the share of generated synthetic tokens a lab keeps after filtering; each kept token is trained on like a human token, so one generated token is worth q unique tokens.", ge=0, le=1)
    collapse_threshold: float = P(0.5, "fraction", "assumption (MODEL.md 4.2 default; Shumailov et al. 2024)",
                                  "Synthetic share of the (distinct) tokens a model trains on, synthetic tokens being those kept after filtering, above which model collapse adds loss.", ge=0, lt=1)
    collapse_penalty: float = P(1.0, "x reducible loss", "assumption: a fully synthetic corpus doubles the reducible loss",
                                "Extra reducible loss at a fully synthetic corpus (linear above the threshold).", ge=0)
    score_chance: float = P(0.25, "score", "MODEL.md 4.2 (four-choice chance level)",
                            "Floor b of the bounded score.", ge=0, lt=1)
    score_k: float = P(35.0, "1/nats", "assumption: a 1e24 FLOP model scores near chance, the 2024 frontier mid-range, and the score approaches ~0.93 as loss nears E",
                       "Steepness k of the score sigmoid in loss.", gt=0)
    score_x0: float = P(1.88, "nats", "assumption: just below the loss of a ~5e25 FLOP run (2024 frontier), which scores ~0.57",
                        "Midpoint x0 of the score sigmoid.", gt=0)
    mfu: float = P(0.4, "fraction", "[llama31_405b_training_compute] 38-43% MFU",
                   "Model FLOP utilization: delivered / peak FLOP for training and serving.", gt=0, le=1)
    reasoning_ece_per_decade: float = P(0.0, "decades ece / decade", "assumption (off by default); [testtime_snell_*]",
                                        "Inference-time compute knob: ece gained per 10x inference FLOP per query.", ge=0)
    reasoning_compute_multiplier: float = P(1.0, "x", "assumption (off by default)",
                                            "Serving FLOP per query relative to a plain answer.", ge=1)


class HardwareParams(Section):
    h100_flops: float = P(989e12, "FLOP/s", "[h100_bf16_dense_flops]", "Peak dense BF16 FLOP/s of one H100e.", gt=0)
    h100_watts_all_in: float = P(1700.0, "W", "[h100_tdp] ~1,700 W all-in", "All-in facility power of one H100e in 2024-01.", gt=0)
    h100_price_usd: float = P(27500.0, "USD", "[h100_price]", "Price of one H100e in 2024-01.", gt=0)
    flops_per_dollar_growth: float = P(1.35, "x/yr", "[gpu_flops_per_dollar_doubling] (2.46 yr doubling ~ 1.33x/yr)",
                                       "Growth of FLOP/s per dollar of the newest chip generation.", ge=1)
    flops_per_watt_growth: float = P(1.28, "x/yr", "[hardware_energy_efficiency_growth]",
                                     "Growth of FLOP/s per watt of the newest generation.", ge=1)
    generation_interval_months: int = P(24, "months", "MODEL.md 4.1 (18-24 months)", "Months between chip generations.", ge=1, le=60)
    depreciation_years: float = P(5.0, "years", "[server_useful_life_hyperscaler] (MODEL.md 4.1: 5, range 4-6)",
                                  "Straight-line depreciation life; chips retire at its end.", ge=1, le=10)
    server_overhead_fraction: float = P(0.4, "fraction of chip price", "assumption from [ai_dc_servers_share_of_tco]",
                                        "Servers, networking and storage bought with each chip.", ge=0)
    facility_capex_usd_per_mw: float = P(10e6, "USD/MW", "assumption from [ai_dc_capex_per_gw] less servers",
                                         "Data-centre shell and cooling cost per MW connected.", ge=0)
    packaging_ceiling_h100e_per_month: float = P(300e3, "H100e/month", "derived from [cowos_capacity_end_2024] (~15 H100e/wafer)",
                                                 "Shared advanced-packaging ceiling on total chip production.", gt=0)
    packaging_growth_per_year: float = P(0.6, "fraction/yr", "[cowos_capacity_end_2025] (2x in 2025, slower after: assumption)",
                                         "Growth of the packaging ceiling.", ge=0)
    rationing_rule: Literal["pro_rata", "largest_first", "partners_first"] = P(
        "partners_first", "-", "MODEL.md 4.4", "How a supplier rations when orders exceed what it has.")


class AlgorithmParams(Section):
    public_growth: float = P(2.8, "x/yr", "[algorithmic_progress_rate]", "Growth of the public algorithmic frontier A_pub.", ge=1)
    research_share_ref: float = P(0.3, "fraction", "assumption: OpenAI 2024 R&D compute ~5/7 incl. final runs [gpt45_final_run_cost]",
                                  "Research share of compute at which a lab's A_i grows at the public rate.", ge=0.05, le=1)
    research_elasticity: float = P(0.5, "-", "assumption: diminishing returns to research compute",
                                   "Elasticity of a lab's algorithmic growth to its research share.", ge=0, le=2)
    diffusion_half_life_months: float = P(12.0, "months", "MODEL.md 4.1 default", "Half-life of a lab's lead over A_pub.", gt=0)
    acquisition_bump: float = P(1.005, "x", "assumption", "Multiplier on A_i when a lab acquires a startup team.", ge=1, le=1.1)


class DataParams(Section):
    public_tokens: float = P(300e12, "tokens", "[public_text_stock_effective] (90% CI 1e14-1e15)",
                             "Effective stock of public human text in 2024-01.", gt=0)
    public_growth_per_year: float = P(0.03, "fraction/yr", "MODEL.md 4.3 (low confidence)", "Growth of the public text stock.", ge=0)
    opt_out_share: float = P(0.0, "fraction", "assumption (scenario lever)", "Share of public text withheld from training.", ge=0, le=1)
    opt_out_growth_per_year: float = P(0.01, "fraction/yr", "assumption: slow data enclosure", "Yearly rise of the opt-out share.", ge=0, le=1)
    licensable_tokens: float = P(30e12, "tokens", "assumption: proprietary archives ~10% of public stock",
                                 "Pool of proprietary tokens for exclusive licence.", ge=0)
    licence_price_usd_per_mtoken: float = P(20.0, "USD/Mtoken", "assumption: press-reported deals ~$10-60M/yr per publisher",
                                            "Price of licensed data.", ge=0)
    licence_free_epochs: float = P(4.0, "epochs", "[muennighoff_epochs_no_penalty]",
                                   "Epochs of its own human tokens a lab's next run may repeat before it buys licences (it buys the tokens that bring the run down to this many).", ge=1)
    synthetic_compute_share: float = P(0.05, "fraction", "assumption", "Largest share of its compute a lab spends in a month generating synthetic tokens; it spends only what generates the tokens its next run can use and it lacks.", ge=0, le=1)
    synthetic_max_share: float = P(0.5, "fraction", "assumption: labs filter synthetic data to stay below the collapse threshold",
                                   "Largest synthetic share (kept synthetic tokens) of the distinct tokens a lab trains on.", ge=0, le=1)
    synthetic_enabled: bool = P(True, "-", "MODEL.md 4.2", "Whether labs may generate synthetic data.")


class PowerParams(Section):
    price_knee_utilization: float = P(0.8, "fraction", "assumption: prices stay at base until grids are tight",
                                      "Utilization above which the scarcity term starts.", ge=0, lt=1)
    price_scarcity_coef: float = P(1.0, "-", "assumption: price doubles at full utilization ([pjm_capacity_price_2026_27]: capacity prices rose ~10x in two auctions)",
                                   "Scarcity term: price = base (1 + coef x^exp), x = (u - knee)/(1 - knee).", ge=0)
    price_scarcity_exponent: float = P(2.0, "-", "assumption: convex", "Exponent of the scarcity term.", ge=1)
    queue_pressure_cap: float = P(0.1, "fraction of capacity", "assumption", "Queued MW counted in utilization, at most this share of capacity.", ge=0)
    onsite_lead_months: int = P(18, "months", "assumption: gas turbines / behind-the-meter builds", "Lead time of on-site generation.", ge=0)
    onsite_price_multiplier: float = P(1.5, "x", "assumption", "Energy price of on-site generation relative to grid base price.", ge=1)
    onsite_mw_per_month_cap: float = P(100.0, "MW/month", "assumption", "On-site MW a lab may start per region and month.", ge=0)
    onsite_wait_threshold_months: int = P(24, "months", "assumption", "Queue wait above which labs choose on-site generation.", ge=0)
    queue_withdrawal_margin: float = P(0.25, "fraction", "assumption: a developer drops a queued request when its project is abandoned, not on one month's dip in its plan ([interconnection_queue_capacity]: ~14% of queued capacity completes)",
                                       "An owner withdraws queued grid MW (newest first) only while its MW held and queued exceed its planned need by more than this share, and then down to that need plus this share.", ge=0)
    carbon_price_usd_per_t: float = P(0.0, "USD/tCO2", "scenario lever", "Carbon price added to electricity.", ge=0)


class ServicesParams(Section):
    spend_2024_usd_per_year: float = P(25e9, "USD/yr", "assumption from Menlo Ventures 2024 ($13.8B enterprise genAI) and lab revenues (~$5B OpenAI+Anthropic)",
                                       "Spending on AI services in 2024-01 (annualized).", gt=0)
    base_growth_per_year: float = P(0.2, "fraction/yr", "assumption: adoption trend independent of capability", "Trend growth of demand.", ge=-0.5)
    capability_elasticity: float = P(3.0, "-", "assumption: spend roughly quadruples as the best score goes from its 2024 level to saturation",
                                     "Elasticity of spend to the best score.", ge=0)
    price_elasticity: float = P(1.2, "-", "assumption: token demand mildly elastic (prices fell ~10x/yr while spend grew)",
                                "Price elasticity of token demand; spend scales as price^(1 - elasticity).", ge=0)
    w_quality: float = P(12.0, "utility/score", "assumption", "Logit weight on score.", ge=0)
    w_price: float = P(1.0, "utility/log USD", "assumption", "Logit weight on log price.", ge=0)
    lab_markup: float = P(2.0, "x", "assumption: API gross margins ~50-60%", "Closed-API price over marginal serving cost.", ge=1)
    open_host_markup: float = P(1.3, "x", "assumption", "Open-weight hosting price over marginal cost.", ge=1)
    active_param_fraction_moe: float = P(0.25, "fraction", "[deepseek_v3_training_compute] 37B of 671B", "Active / total parameters of a mixture-of-experts model.", gt=0, le=1)
    reference_score: float = P(0.0, "score", "derived: best score of the baseline's models in 2024-01 (0 = the best score at the start month)",
                               "Best model score that spend_2024_usd_per_year refers to.", ge=0, le=1)
    tokens_per_usd_scale: float = P(1.0, "-", "assumption", "Scale on served tokens per dollar (1 = cost-based).", gt=0)


class FinanceParams(Section):
    sentiment_start: float = P(1.0, "index", "MODEL.md 4.7", "Investor sentiment in 2024-01.", gt=0)
    sentiment_mean_reversion_per_year: float = P(0.5, "1/yr", "assumption", "Rate of mean reversion of sentiment to 1.", ge=0)
    sentiment_revenue_weight: float = P(0.0001387, "-", "calibrated (analysis/calibrate.py, docs/ODD.md section 10) within 0-1: the 2020-2024 backcast fits best when revenue growth barely moves sentiment",
                                        "Response of sentiment to revenue growth (yearly rate).", ge=0)
    sentiment_capability_weight: float = P(0.3, "-", "assumption", "Response of sentiment to frontier ece gain (decades/yr).", ge=0)
    sentiment_revenue_growth_ref: float = P(0.3, "log/yr", "assumption", "Revenue growth that leaves sentiment unchanged.")
    sentiment_capability_ref: float = P(0.5, "decades ece/yr", "assumption: ~historical frontier pace", "Capability progress that leaves sentiment unchanged.")
    sentiment_noise: float = P(0.05, "per sqrt(yr)", "assumption", "Volatility of sentiment.", ge=0)
    parent_capex_2024_usd_per_year: float = P(228e9, "USD/yr", "[hyperscaler_capex_2024]", "AI capex of hyperscaler parents in 2024.", gt=0)
    parent_capex_growth_start: float = P(0.7, "fraction/yr", "[hyperscaler_capex_2025] [hyperscaler_capex_2026_guidance]", "Growth of parent capex in 2024-2026.", ge=-0.5)
    parent_capex_growth_long: float = P(0.08, "fraction/yr", "assumption: converges to cash-flow growth", "Long-run growth of parent capex.", ge=-0.5)
    parent_capex_growth_decay_years: float = P(3.0, "years", "assumption", "Time constant of the move from start to long-run growth.", gt=0)
    parent_capex_growth_before_cal: float = P(0.5859, "fraction/yr", "calibrated (analysis/calibrate.py, docs/ODD.md section 10) within 0.25-1.5: at least the 25%/yr growth of total hyperscaler capex 2020-2024 (10-K filings, [hyperscaler_capex_2024])",
                                              "Growth of parent AI capex before the calibration month (backcasts only).", ge=-0.5)
    parent_sentiment_elasticity: float = P(1.0, "-", "assumption", "Elasticity of parent capex to sentiment.", ge=0)
    equity_round_months: int = P(12, "months", "assumption: frontier labs raise about yearly", "Months between equity rounds.", ge=1)
    equity_round_valuation_share: float = P(0.1, "fraction", "assumption: ~10% dilution per round", "Round size as share of valuation x sentiment.", gt=0, le=1)
    runway_target_months: float = P(24.0, "months", "assumption: labs raise to cover about two years of spending", "Cash an equity lab aims to hold, in months of recent spending.", gt=0)
    revenue_multiple: float = P(25.0, "x", "assumption: 2024 frontier lab revenue multiples ~20-40x", "Valuation / annualized revenue.", gt=0)
    capability_valuation_usd_per_score: float = P(150e9, "USD/score", "assumption", "Valuation from capability above chance.", ge=0)
    strategic_investor_share: float = P(0.3, "fraction", "assumption: Microsoft/Amazon/Google/NVIDIA stakes", "Share of a round taken by a cloud or supplier.", ge=0, le=1)
    cash_reserve_months: float = P(6.0, "months", "assumption", "Opex months a lab keeps before capex.", ge=0)
    lab_opex_ratio: float = P(0.6, "USD per USD of depreciation", "derived from [dev_cost_share_hardware]: staff 29-49% vs hardware 47-67%",
                              "Staff and other opex per dollar of monthly hardware depreciation.", ge=0)
    lab_opex_base_usd_per_month: float = P(20e6, "USD/month", "assumption: a few hundred researchers", "Fixed opex of a lab.", ge=0)
    cloud_margin: float = P(0.05, "fraction", "derived: makes the 2024-01 rental price ~$2/H100e-hour [h100_rental_price] given chip, server, facility and energy costs (thin margins: 2024 GPU-cloud price war)",
                            "Cloud markup on rental cost.", ge=0)
    cloud_share_of_parent_capex: float = P(0.55, "fraction", "assumption: most hyperscaler AI capex serves cloud customers", "Share of parent capex spent by the cloud pool.", ge=0, le=1)
    cloud_builds_parent_capex: bool = P(True, "-", "MODEL.md 4.7 and [hyperscaler_capex_2024] [hyperscaler_capex_2025]: the parents' AI capex funds hyperscaler building and the reported capex was spent",
                                        "Whether the cloud builds at least what its share of the parents' capex buys each month (chips, servers and facilities), even ahead of its rental-demand forecast; False: it draws the share only to cover a gap in its demand-driven plan.")
    budgets_include_facility: bool = P(True, "-", "MODEL.md 4.4, 4.5 and 4.7: an owner (lab or cloud) pays the facility capex of the MW it connects (hardware.facility_capex_usd_per_mw); accounting, not a fitted value",
                                       "Whether an owner's chip budget (labs and the cloud alike) and a lab's power plan count the facility capex of the MW its chips need: it keeps back the facility bills of chips it owns and has on order that its held MW does not power, buys chips beyond its spare held MW at chip, server and facility cost (the cloud's parents' top-up covers both), and a lab plans power for its monthly spend at that all-in cost; False: chips at chip and server cost only, facility bills paid as they fall due.")
    cloud_utilization_target: float = P(0.7, "fraction", "assumption", "Utilization the cloud plans its fleet for.", gt=0, le=1)
    cloud_demand_growth_prior: float = P(1.7, "x/yr", "[hyperscaler_capex_2024] [hyperscaler_capex_2025]: the parents' AI capex grew 395/228 = 1.73x in 2024-25, their own plan for cloud demand",
                                         "Yearly growth of rental demand the cloud plans its chips and power on before it has watched demand for a year (pulled toward the observed rate with weight (months observed - 1)/12).", ge=1, le=4)
    outside_rental_h100e_2024: float = P(600e3, "H100e", "assumption: non-frontier AI workloads on cloud", "Outside (non-modelled) rental demand in 2024.", ge=0)
    cloud_fleet_h100e_2024: float = P(2.1e6, "H100e", "derived: [default_2024_ai_compute_stock_start] less lab fleets",
                                      "Chips in the rentable cloud pool in 2024-01.", ge=0)
    outside_rental_growth_per_year: float = P(0.5, "fraction/yr", "assumption", "Growth of outside rental demand.", ge=-0.5)


class StartupParams(Section):
    initial: int = P(1000, "startups", "MODEL.md 2 (10^3 default)", "Startups alive in 2024-01.", ge=0, le=2_000_000)
    model_share: float = P(0.15, "fraction", "assumption", "Share of startups that train models (the rest build apps).", ge=0, le=1)
    venture_pool_2024_usd_per_year: float = P(120e9, "USD/yr", "[vc_ai_global_2024] less frontier-lab rounds", "Venture funding for AI in 2024.", ge=0)
    venture_growth_per_year: float = P(0.1, "fraction/yr", "assumption", "Trend growth of the venture pool.", ge=-0.5, le=0.5)
    venture_sentiment_elasticity: float = P(2.0, "-", "assumption: VC is pro-cyclical", "Elasticity of the venture pool to sentiment.", ge=0)
    venture_to_startups_share: float = P(0.05, "fraction", "assumption: set so the 2024 seed money sustains ~35%/yr entry into the reference population; the rest funds late-stage and frontier labs and startups outside the model",
                                          "Share of the venture pool invested in the modelled startup population.", ge=0, le=1)
    seed_share: float = P(0.3, "fraction", "assumption: seed and series A are ~30% of AI venture dollars",
                          "Share of the startups' venture money that funds new entrants (entry = seed money / seed round).", ge=0, le=1)
    reference_population: int = P(1000, "startups", "assumption: resolution at which per-startup dollars are quoted",
                                  "Per-startup dollars scale by reference_population/initial, so aggregate dollars do not depend on resolution.", ge=1)
    seed_round_usd: float = P(5e6, "USD", "assumption: typical 2024 AI seed round", "Cash of a new startup (at the reference resolution).", gt=0)
    burn_usd_per_month: float = P(3e5, "USD/month", "assumption", "Median opex of a startup (at the reference resolution).", ge=0)
    reinvest_share: float = P(0.8, "fraction of gross margin", "assumption: venture-backed startups spend for growth",
                              "Share of revenue net of API fees a startup spends on growth each month.", ge=0, le=1)
    follow_on_success_per_month: float = P(0.15, "1/month", "assumption: about 60% of startups near the end of their runway raise again",
                                           "Monthly chance a startup with under 6 months of runway closes a round (x sentiment x traction).", ge=0, le=1)
    follow_on_months: float = P(18.0, "months of burn", "assumption", "Size of a follow-on round in months of burn, at sentiment 1.", ge=0)
    burn_dispersion: float = P(0.8, "log sd", "assumption", "Log-normal dispersion of burn.", ge=0)
    app_revenue_share: float = P(0.2, "fraction", "assumption", "Share of services spend routed through app startups.", ge=0, le=1)
    api_fee_share: float = P(0.35, "fraction of app revenue", "assumption", "App startup revenue paid to its lab as API fees.", ge=0, le=1)
    model_startup_compute_share: float = P(0.5, "fraction of cash/month", "assumption", "Monthly share of spare cash a model startup spends on compute.", ge=0, le=1)
    model_startup_capability_lag: float = P(1.0, "decades ece", "assumption", "Mean distance below the best open-weight model of a fine-tuning startup (each team draws 0.5-1.5x this).", ge=0)
    acquisition_rate: float = P(0.002, "1/month", "assumption", "Monthly chance a startup is acquired by a cash-rich lab.", ge=0, le=1)
    acquisition_price_multiple: float = P(5.0, "x revenue/yr", "assumption", "Acquisition price over annualized revenue (at least its cash).", ge=0)
    failure_grace_months: int = P(0, "months", "assumption", "Months a startup may run at negative cash.", ge=0)


class ReferenceParams(Section):
    meek_budget_usd: float = P(1000.0, "USD", "[meek_budget]", "Budget of the fixed-budget reference trainer.", gt=0)
    meek_data_unconstrained: bool = P(True, "-", "Gundlach et al. 2025", "The reference trainer never hits the data wall.")


class TrainingParams(Section):
    share_growth_per_year: float = P(0.9801, "fraction/yr", "calibrated (analysis/calibrate.py, docs/ODD.md section 10) to the largest runs of 2020-2023, within 0-1: [frontier_training_compute_growth] 4-5x/yr against [global_ai_compute_stock] 2.3-3.3x/yr stock growth",
                                  "Yearly growth of every lab's training share (labs.*.training_share is its value at the calibration month).", ge=0, le=3)
    share_max: float = P(0.25, "fraction", "assumption: labs keep most compute for inference and research ([gpt45_final_run_cost]: final runs ~10% of 2024 R&D compute)",
                         "Ceiling a growing training share stops at (never below a lab's own training_share, never above 1 - its research_share).", gt=0, le=1)


class MeekLimitParams(Section):
    enabled: bool = P(False, "-", "MODEL.md 7", "Run the analytic Meek-models limit instead of the market model.")
    start_budget_usd: float = P(1000.0, "USD", "[meek_budget]", "Budget of both trainers at t=0.", gt=0)
    budget_growth: float = P(3.57, "x/yr", "[meek_investment_growth]", "Budget growth of the frontier trainer.", ge=1)
    hardware_growth: float = P(1.4, "x/yr", "[meek_hardware_growth]", "Growth of FLOP per dollar.", ge=1)
    algorithmic_growth: float = P(2.8, "x/yr", "[meek_algorithmic_growth]", "Growth of algorithmic efficiency.", ge=1)
    rental_price_usd_per_h100e_hr: float = P(2.0, "USD/H100e-hour", "[h100_rental_price]; with 40% MFU, $1,000 buys ~7e20 FLOP [meek_budget]",
                                             "Price of compute at t=0 in the meek limit.", gt=0)


class LabParams(Section):
    archetype: Literal["hyperscaler", "independent", "open", "national"] = P("independent", "-", "MODEL.md 2", "Archetype of the lab.")
    funding: Literal["parent", "equity"] = P("equity", "-", "MODEL.md 4.7", "Parent cash flow or equity rounds.")
    region: str = P("us_east", "-", "assumption", "Home grid region.")
    fleet_h100e: float = P(50e3, "H100e", "assumption from [global_ai_compute_stock]", "Chips owned in 2024-01.", ge=0)
    mw: float = P(0.0, "MW", "derived: fleet x all-in W (0 = enough for the fleet)", "MW held in the home region in 2024-01.", ge=0)
    cash_usd: float = P(5e9, "USD", "assumption", "Cash in 2024-01.", ge=0)
    parent_share: float = P(0.0, "fraction", "assumption", "Share of hyperscaler parent capex this lab receives.", ge=0, le=1)
    capex_aggressiveness: float = P(0.6, "fraction/yr", "assumption", "Share of spare cash an equity lab spends on compute per year (x12 months).", ge=0, le=5)
    research_share: float = P(0.3, "fraction", "assumption", "Share of compute for research.", ge=0, le=1)
    training_share: float = P(0.4, "fraction", "assumption", "Share of compute for the main training run at the calibration month (see training.share_growth_per_year).", ge=0, le=1)
    rent_share: float = P(0.0, "fraction", "assumption: cloud partnership", "Share of the compute budget spent renting from the cloud.", ge=0, le=1)
    train_months: int = P(4, "months", "[llama31_405b_training_compute] ~3 months", "Duration of a training run.", ge=1, le=24)
    algorithmic_multiplier: float = P(1.0, "x", "assumption", "A_i relative to A_pub in 2024-01.", ge=0.01)
    licensed_tokens: float = P(0.0, "tokens", "assumption", "Proprietary tokens held in 2024-01.", ge=0)
    last_run_flop: float = P(1e25, "FLOP", "[gpt4_training_compute] [llama31_405b_training_compute]", "Physical FLOP of the deployed model in 2024-01.", gt=0)
    open_weights: bool = P(False, "-", "assumption", "Whether the lab releases its models' weights.")
    moe: bool = P(False, "-", "[deepseek_v3_training_compute]", "Whether the lab serves mixture-of-experts models.")
    cloud_partner: bool = P(False, "-", "assumption", "Whether the cloud pool is the lab's partner (investor and landlord).")
    supplier_partner: str = P("", "-", "assumption", "Supplier whose long-term contracts the lab holds (empty: none).")
    name: str = P("", "-", "-", "Display name.")


class SupplierParams(Section):
    kind: Literal["incumbent", "challenger", "custom_asic", "domestic"] = P("challenger", "-", "MODEL.md 2", "Kind of supplier.")
    capacity_h100e_per_month: float = P(10e3, "H100e/month", "assumption from [nvidia_installed_compute_stock]", "Production capacity in 2024-01.", ge=0)
    capacity_growth_per_year: float = P(0.8, "fraction/yr", "[global_ai_compute_stock] 2.3-3.3x stock growth", "Base growth of capacity.", ge=-0.5)
    markup: float = P(1.5, "fraction", "assumption from NVIDIA gross margin ~75%",
                      "Price over unit cost in 2024-01. The incumbent's markup also sets every supplier's unit "
                      "cost: its 2024-01 price is pinned to hardware.h100_price_usd, so the unit cost is "
                      "h100_price_usd / (1 + markup) and a higher incumbent markup gives the same start price "
                      "but lower unit costs and lower later prices (docs/ODD.md 5.1, 7.1).", ge=0)
    markup_min: float = P(0.2, "fraction", "assumption", "Lowest markup.", ge=0)
    markup_max: float = P(4.0, "fraction", "assumption", "Highest markup.", ge=0)
    markup_adjust_per_month: float = P(0.05, "fraction", "assumption", "Markup response to backlog per month.", ge=0)
    generation_lag_months: int = P(0, "months", "assumption", "How far the supplier lags the hardware frontier.", ge=0)
    cost_premium: float = P(1.0, "x", "assumption", "Unit cost relative to the frontier's cost per H100e.", gt=0)
    sells_to: list[str] = P([], "regions", "assumption", "Regions it may sell to (empty: all).")
    exclusive_to: list[str] = P([], "labs", "assumption", "Labs it sells to exclusively (custom ASIC; empty: anyone).")
    invests_in_labs: bool = P(False, "-", "assumption: NVIDIA strategic stakes", "Whether it takes part in lab equity rounds.")
    name: str = P("", "-", "-", "Display name.")


class GridParams(Section):
    capacity_mw: float = P(2000.0, "MW", "assumption from [default_2024_ai_accelerator_power]", "MW available to AI data centres in 2024-01.", ge=0)
    committed_mw: float = P(0.0, "MW", "derived at start", "MW already committed to outside loads in 2024-01.", ge=0)
    buildout_mw_per_year: float = P(2000.0, "MW/yr", "assumption from [global_dc_electricity_2030]", "Yearly additions of data-centre capacity.", ge=0)
    buildout_growth_per_year: float = P(0.1, "fraction/yr", "assumption", "Growth of the buildout rate.", ge=-0.5)
    queue_lead_months: int = P(48, "months", "[interconnection_queue_capacity] median ~5 yr", "Lead time of an interconnection request.", ge=0)
    base_price_usd_per_mwh: float = P(75.0, "USD/MWh", "[default_electricity_price_dc]", "Base electricity price.", gt=0)
    carbon_t_per_mwh: float = P(0.4, "tCO2/MWh", "assumption: grid averages", "Carbon intensity.", ge=0)
    cloud_mw: float = P(0.0, "MW", "assumption", "MW held by the cloud pool in this region in 2024-01 (its new MW is requested in proportion).", ge=0)
    moratorium_threshold: float = P(1.01, "utilization", "assumption (>1 = never)", "Utilization at which new load is refused.", gt=0)
    name: str = P("", "-", "-", "Display name.")


EVENT_KINDS = (
    "export_control", "compute_cap", "moratorium", "carbon_price", "antitrust", "open_weight_ban",
    "open_weight_mandate", "opt_out", "compute_subsidy", "supply_shock", "efficiency_breakthrough",
    "sentiment_crash", "venture_shock",
)


#: event kind -> (lowest, whether the lowest is excluded, highest, what the value is): the values
#: ``Scenario`` accepts for an event's ``value`` (docs/ODD.md 7.19); the kinds not listed ignore it.
#: The upper limits are assumptions that keep a run within memory and floating point: with a
#: sentiment 1e6 times higher, or a venture pool 1e6 times larger, the startups entering in a
#: month would not fit in memory; a breakthrough of 1e100 overflowed the meek reference.
EVENT_VALUES: dict[str, tuple[float, bool, float, str]] = {
    "compute_cap": (0.0, True, math.inf, "FLOP per run, above 0"),
    "carbon_price": (0.0, False, math.inf, "USD per tCO2, at least 0"),
    "antitrust": (0.0, False, 10_000.0, "a revenue share (at most 1) or an HHI (above 1, at most 10,000)"),
    "opt_out": (0.0, False, 1.0, "a share from 0 to 1"),
    "compute_subsidy": (0.0, False, math.inf, "USD per year, at least 0"),
    "supply_shock": (0.0, False, math.inf, "a capacity factor, at least 0"),
    "efficiency_breakthrough": (0.0, True, 1000.0, "a multiplier on A_pub, above 0 and at most 1,000"),
    "sentiment_crash": (0.0, True, 10.0, "a multiplier on sentiment, above 0 and at most 10"),
    "venture_shock": (0.0, False, 10.0, "a factor on the venture pool from 0 to 10"),
}


class Event(Section):
    month: str = P(..., "YYYY-MM", "-", "Month the event fires.")
    kind: Literal[EVENT_KINDS] = P(..., "-", "MODEL.md 4.9", "What happens.")
    supplier: str = P("", "-", "-", "Supplier concerned (export_control, supply_shock).")
    region: str = P("", "-", "-", "Region concerned (export_control, moratorium, carbon_price).")
    value: float = P(0.0, "depends on kind", "-", "Size: FLOP cap, USD/t, share, factor, multiplier...")
    months: int = P(0, "months", "-", "Duration (0 = permanent).", ge=0)
    active: bool = P(True, "-", "-", "Switch the policy on (true) or off (false).")
    note: str = P("", "-", "-", "Why this event is here.")

    _m = field_validator("month")(classmethod(lambda cls, v: check_month(v)))


class Scenario(Section):
    _top: ClassVar[bool] = True

    name: str = P("custom", "-", "-", "Scenario name.")
    question: str = P("", "-", "-", "The question the scenario answers.")
    extends: str | None = P(None, "-", "-", "Parent scenario (name or path).")
    start: str = P("2024-01", "YYYY-MM", "MODEL.md 1", f"First simulated month, {FIRST_MONTH} at the earliest.")
    end: str = P("2040-12", "YYYY-MM", "MODEL.md 1", f"Last simulated month, {LAST_MONTH} at the latest.")
    calibration_month: str = P("2024-01", "YYYY-MM", "MODEL.md 2", "Month the trend levels (prices, A_ref, stocks) refer to.")
    scaling: ScalingParams = Field(default_factory=ScalingParams)
    hardware: HardwareParams = Field(default_factory=HardwareParams)
    algorithms: AlgorithmParams = Field(default_factory=AlgorithmParams)
    data: DataParams = Field(default_factory=DataParams)
    power: PowerParams = Field(default_factory=PowerParams)
    services: ServicesParams = Field(default_factory=ServicesParams)
    finance: FinanceParams = Field(default_factory=FinanceParams)
    startups: StartupParams = Field(default_factory=StartupParams)
    reference: ReferenceParams = Field(default_factory=ReferenceParams)
    training: TrainingParams = Field(default_factory=TrainingParams)
    meek_limit: MeekLimitParams = Field(default_factory=MeekLimitParams)
    labs: dict[str, LabParams] = Field(default_factory=dict)
    suppliers: dict[str, SupplierParams] = Field(default_factory=dict)
    grids: dict[str, GridParams] = Field(default_factory=dict)
    events: list[Event] = Field(default_factory=list)

    _start = field_validator("start")(classmethod(lambda cls, v: check_start(v)))
    _cal = field_validator("calibration_month")(classmethod(lambda cls, v: check_month(v)))

    @field_validator("end")
    @classmethod
    def _end(cls, v: str, info: ValidationInfo) -> str:
        return check_end(v, info.data.get("start"))  # (start is validated first; absent when invalid)

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        try:  # (again for a start assigned after the end was checked: assignments are validated)
            check_end(self.end, self.start)
        except HorizonError as e:
            raise HorizonError(f"end: {e}") from None
        regions = set(self.grids)
        for lid, lab in self.labs.items():
            if lab.region not in regions:
                raise ValueError(f"labs.{lid}.region: {lab.region!r} is not a grid region; expected one of {sorted(regions)}")
            if lab.supplier_partner and lab.supplier_partner not in self.suppliers:
                raise ValueError(f"labs.{lid}.supplier_partner: unknown supplier {lab.supplier_partner!r}")
        for sid, sup in self.suppliers.items():
            for r in sup.sells_to:
                if r not in regions:
                    raise ValueError(f"suppliers.{sid}.sells_to: {r!r} is not a grid region")
            for lab in sup.exclusive_to:
                if lab not in self.labs:
                    raise ValueError(f"suppliers.{sid}.exclusive_to: {lab!r} is not a lab")
        for i, ev in enumerate(self.events):
            if not (month_index(self.start) <= month_index(ev.month) <= month_index(self.end)):
                raise HorizonError(f"events.{i}.month: {ev.month} is outside the horizon {self.start}..{self.end}")
            if ev.supplier and ev.supplier not in self.suppliers:
                raise ValueError(f"events.{i}.supplier: unknown supplier {ev.supplier!r}")
            if ev.region and ev.region not in regions:
                raise ValueError(f"events.{i}.region: unknown region {ev.region!r}")
            rng = EVENT_VALUES.get(ev.kind)
            if rng is not None:
                lo, lo_open, hi, what = rng
                if not (lo < ev.value if lo_open else lo <= ev.value) or not ev.value <= hi:
                    raise ValueError(f"events.{i}.value: expected {what} for a {ev.kind} event (got {ev.value:g})")
        if not self.meek_limit.enabled and (not self.labs or not self.grids or not self.suppliers):
            raise ValueError("a market scenario needs at least one lab, one supplier and one grid")
        self._adopt()
        return self

    def _sections(self) -> Iterator[tuple[list[str], Section]]:
        """(path, section) of each section of the scenario: tables, labs, suppliers, grids, events."""
        for name in type(self).model_fields:
            v = self.__dict__.get(name)
            if isinstance(v, Section):
                yield [name], v
            elif isinstance(v, dict):
                yield from (([name, str(k)], x) for k, x in v.items() if isinstance(x, Section))
            elif isinstance(v, list):
                yield from (([name, str(i)], x) for i, x in enumerate(v) if isinstance(x, Section))

    def _path_of(self, section: Section) -> list[str] | None:
        return next((p for p, x in self._sections() if x is section), None)

    def _adopt(self) -> None:
        """Record this scenario as an owner of each of its sections (see :meth:`Section.__setattr__`).
        (A section may be held by several scenarios, e.g. after a shallow copy; a scenario no
        longer holding it is skipped when it is assigned to.)"""
        for _, x in self._sections():
            refs = _OWNERS.get(id(x))
            if refs is None:
                _OWNERS[id(x)] = [weakref.ref(self)]
                weakref.finalize(x, _OWNERS.pop, id(x), None).atexit = False
            elif not any(r() is self for r in refs):
                refs[:] = [r for r in refs if r() is not None] + [weakref.ref(self)]

    def __copy__(self) -> "Scenario":
        new = super().__copy__()
        new._adopt()
        return new

    def __deepcopy__(self, memo: dict | None = None) -> "Scenario":
        new = super().__deepcopy__(memo)
        new._adopt()
        return new

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._adopt()
