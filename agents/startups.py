"""The startup population: one set of numpy arrays, one row per startup, stable ids.

``app`` startups build on a lab's API: they earn from end customers and pay API fees to their
provider lab. ``model`` startups rent compute from the cloud, train small models with the same
scaling law (starting near the best open-weight model, which they fine-tune) and sell cheap APIs.
Startups enter with seed money from the venture pool, raise follow-on rounds when they run low,
fail when their cash runs out, and may be acquired by labs.

Every phase is a handful of array operations; there is no Python loop over startups. The
monthly money rules are the function :func:`settle_month` (it updates the state arrays it is
given and returns the month's flows), which a readable per-startup reference
(:func:`settle_month_reference`) reproduces exactly from the same random draws.
"""

from __future__ import annotations

import math

import numpy as np

APP, MODEL = 0, 1
ALIVE, FAILED, ACQUIRED = 0, 1, 2

FIELDS = {
    "id": np.int64, "kind": np.int8, "status": np.int8, "provider": np.int32, "acquirer": np.int32,
    "founded": np.int32, "exit_month": np.int32, "cash": np.float64, "burn": np.float64,
    "revenue": np.float64, "revenue_prev": np.float64, "train_flop": np.float64, "ece": np.float64,
    "score": np.float64, "rent_usd": np.float64, "skill": np.float64,
}

#: the fields :meth:`StartupPopulation.note_exits` keeps of the startups that leave in a month
EXIT_FIELDS = ("kind", "revenue", "ece", "score", "rent_usd")


def grown_capacity(cap: int, need: int) -> int:
    """Rows to allocate for an array of ``cap`` rows that must hold ``need``: geometric growth
    (x1.5, plus a few rows), so that a population growing month by month is copied rarely."""
    return max(need, int(cap * 1.5) + 16)


class StartupPopulation:
    """Arrays of startup state; capacity grows geometrically as startups enter."""

    def __init__(self, n_labs: int):
        self.n_labs = n_labs
        self.n = 0
        self.next_id = 0
        self._cap = 0
        self.a: dict[str, np.ndarray] = {k: np.zeros(0, dtype=t) for k, t in FIELDS.items()}
        #: acquired apps, which earn for their owners, as sums (their rows go at compaction)
        self.held = AcquiredApps(n_labs)
        #: the startups that left this month (failed or acquired), as :meth:`note_exits` keeps them
        self.exits: dict[str, np.ndarray] = {k: np.zeros(0, dtype=FIELDS[k]) for k in EXIT_FIELDS}
        # ascending rows of the model startups, alive or not (:meth:`model_rows`): kept by add
        # and compact, since a row's kind never changes
        self._model_rows = np.zeros(0, dtype=np.intp)
        # each row's provider clipped into the labs' rows (:meth:`provider_labs`), valid for the
        # first _labs_n rows: extended for the rows add() appends, found again after compact()
        self._labs = np.zeros(0, dtype=np.intp)
        self._labs_n = 0
        # ascending rows of the startups no longer alive (:meth:`dead_rows`): the rows note_exits
        # was given since the last compact
        self._dead_rows = np.zeros(0, dtype=np.intp)

    # ----- storage ------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = grown_capacity(self._cap, need)
        for k, t in FIELDS.items():
            new = np.empty(cap, dtype=t)  # (rows from n on are filled by add before anything reads them)
            new[: self.n] = self.a[k][: self.n]
            self.a[k] = new
        self._cap = cap

    def __getattr__(self, name: str) -> np.ndarray:
        a = self.__dict__.get("a")
        if a is not None and name in a:
            return a[name][: self.__dict__["n"]]
        raise AttributeError(name)

    def add(self, kinds: np.ndarray, providers: np.ndarray, cash: np.ndarray, burn: np.ndarray, month: int,
            skill: np.ndarray | None = None) -> np.ndarray:
        """Append startups; returns their ids."""
        k = len(kinds)
        self._grow(self.n + k)
        s = slice(self.n, self.n + k)
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        a = self.a
        a["id"][s] = ids
        a["kind"][s] = kinds
        a["status"][s] = ALIVE
        a["provider"][s] = providers
        a["acquirer"][s] = -1
        a["founded"][s] = month
        a["exit_month"][s] = -1
        a["cash"][s] = cash
        a["burn"][s] = burn
        for f in ("revenue", "revenue_prev", "train_flop", "rent_usd"):
            a[f][s] = 0.0
        a["skill"][s] = 1.0 if skill is None else skill
        a["ece"][s] = np.nan
        a["score"][s] = np.nan
        new_models = np.flatnonzero(a["kind"][s] == MODEL)
        if new_models.size:
            new_models += self.n
            self._model_rows = np.concatenate((self._model_rows, new_models))
        self.n += k
        self.next_id += k
        return ids

    def compact(self) -> None:
        """Drop the rows of startups no longer alive: failed, acquired (acquired apps earn for
        their owners through :attr:`held`, which :func:`settle_month` keeps)."""
        keep = np.flatnonzero(self.status == ALIVE)  # (found once: compress would redo it per field)
        if keep.size == self.n:
            return
        for k in FIELDS:
            # gathered straight into a new array of the same capacity, which replaces the old one
            # (taken into a temporary and copied back, each row moved twice); memory the previous
            # field just freed serves the next. mode="clip" (the rows are in range anyway): with
            # the default, numpy gathers into a temporary whenever ``out`` is given.
            old = self.a[k]
            new = np.empty_like(old)
            old[: self.n].take(keep, out=new[: keep.size], mode="clip")
            self.a[k] = new
        self.n = keep.size
        self._model_rows = np.flatnonzero(self.a["kind"][: self.n] == MODEL)
        self._labs_n = 0
        self._dead_rows = np.zeros(0, dtype=np.intp)

    def model_rows(self) -> np.ndarray:
        """Ascending rows of the model startups, alive or not (a startup's kind is set by
        :meth:`add` and never changes). Kept up to date by :meth:`add` and :meth:`compact`: a
        few tens of thousands of rows in a population of a million, found without a pass over it.
        The caller must not change the array."""
        return self._model_rows

    def provider_labs(self) -> np.ndarray:
        """Each row's provider lab clipped into the rows of the ``n_labs`` labs, as intp (what
        :func:`settle_month` indexes the labs by, and takes as ``provider_labs``). A row's provider
        is set by :meth:`add` and never changes, so the array is kept from month to month and only
        the rows added since are clipped (all rows again after :meth:`compact`): at a million rows
        a pass and a new array a month saved. The caller must not change the array."""
        n, done = self.n, self._labs_n
        if done < n:
            if self._labs.size < n:
                grown = np.empty(grown_capacity(self._labs.size, n), dtype=np.intp)
                grown[:done] = self._labs[:done]
                self._labs = grown
            _lab_rows(self.a["provider"][done:n], self.n_labs, out=self._labs[done:n])
            self._labs_n = n
        return self._labs[:n]

    def note_exits(self, rows: np.ndarray) -> None:
        """Keep the :data:`EXIT_FIELDS` of ``rows`` (ascending), the startups that left this month
        (failed or acquired), as :attr:`exits`, replacing last month's. They sold to end customers
        this month (:func:`settle_month` leaves their ``revenue`` at the month's) and the model
        startups among them rented compute and trained this month (``rent_usd`` is the month's),
        so the month's records count their sales, training and compute with those of the
        startups alive, even once :meth:`compact` has dropped their rows. A few rows a month: copies, not a pass over the population."""
        self.exits = {k: self.a[k].take(rows) for k in EXIT_FIELDS}
        if rows.size:  # (alive until this month: none is in _dead_rows yet)
            dead = self._dead_rows
            self._dead_rows = np.insert(dead, np.searchsorted(dead, rows), rows)

    def dead_rows(self) -> np.ndarray:
        """Ascending rows of the startups no longer alive, kept from the rows :meth:`note_exits`
        is given (a startup leaves only by :func:`settle_month`, and the model notes its exits every
        month) and emptied by :meth:`compact`: up to a few percent of the rows, found without a
        pass over them (:meth:`removable_rows` counts them from the statuses). The caller must
        not change the array."""
        return self._dead_rows

    def removable_rows(self) -> int:
        """The number of rows :meth:`compact` would drop."""
        return self.n - int(np.count_nonzero(self.status == ALIVE))

    @property
    def alive(self) -> np.ndarray:
        return self.status == ALIVE

    def state_bytes(self) -> int:
        return int(sum(v.nbytes for v in self.a.values()))


class AcquiredApps:
    """Acquired app startups held as sums per (provider lab, owner lab) instead of rows.

    An acquired app keeps earning, for its owner: its share of app spend is
    ``(revenue_prev + base) x provider weight`` over all open apps, with ``revenue_prev`` frozen at
    its last month as an independent startup. That depends on the app only through its provider,
    its owner and ``revenue_prev``, so the sums ``revenue[p, j]`` (of ``revenue_prev``) and
    ``count[p, j]`` of the apps with provider ``p`` owned by ``j`` give every owner's revenue
    exactly, and the population can drop their rows (:meth:`StartupPopulation.compact`).
    """

    def __init__(self, n_labs: int):
        self.revenue = np.zeros((n_labs, n_labs))
        self.count = np.zeros((n_labs, n_labs), dtype=np.int64)

    @classmethod
    def from_rows(cls, s: dict[str, np.ndarray], n_labs: int) -> AcquiredApps:
        """The acquired apps among the rows of ``s`` (state arrays as :func:`settle_month` takes)."""
        held = cls(n_labs)
        rows = np.flatnonzero((s["kind"] == APP) & (s["status"] == ACQUIRED))
        held.add(s["provider"][rows], s["acquirer"][rows], s["revenue_prev"][rows])
        return held

    def add(self, provider: np.ndarray, owner: np.ndarray, revenue_prev: np.ndarray) -> None:
        key = (_lab_rows(provider, len(self.count)), _lab_rows(owner, len(self.count)))
        np.add.at(self.revenue, key, revenue_prev)
        np.add.at(self.count, key, 1)

    def close_owner(self, owner: int) -> None:
        """The apps ``owner`` holds close (their owner left): they earn for nobody from now on,
        and their share of app spend goes to the apps still open."""
        self.revenue[:, owner] = 0.0
        self.count[:, owner] = 0

    @property
    def n(self) -> int:
        return int(self.count.sum())


def _lab_rows(x: np.ndarray, n_labs: int, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` clipped into the rows of ``n_labs`` labs. (The array method with numpy integer bounds
    skips ``np.clip``'s wrappers and its check of Python int bounds against the dtype's range:
    a few microseconds a call, which count in a population of a few thousand startups.)"""
    return x.clip(np.intp(0), np.intp(n_labs - 1), out=out)


def _plain(x: float) -> bool:
    """Whether ``x`` is finite and not negative, nor -0.0 (``0.0 * x`` is then +0.0)."""
    return 0.0 <= x < math.inf and math.copysign(1.0, x) > 0


def _none_negative(x: np.ndarray) -> bool:
    """Whether no value of ``x`` is negative or NaN (true of no values)."""
    return bool(x.min(initial=0.0) >= 0.0)


class RowDraws:
    """The month's uniform draws given up front, one per row for each use (what
    :func:`settle_month_reference` takes): ``u_acq`` (acquisition), ``u_pick`` (choice of
    acquirer), ``u_round`` (follow-on round; None: every ask closes)."""

    def __init__(self, u_acq: np.ndarray, u_pick: np.ndarray, u_round: np.ndarray | None = None):
        self.u_acq, self.u_pick, self.u_round = u_acq, u_pick, u_round

    def rounds(self, rows: np.ndarray) -> np.ndarray | None:
        """Uniforms for the rounds asked by ``rows`` (None: no draw, every ask closes)."""
        return None if self.u_round is None else self.u_round[rows]

    def candidates(self, n: int, p: float) -> np.ndarray:
        """Ascending rows of the ``n`` whose acquisition draw is under ``p``."""
        return np.flatnonzero(self.u_acq[:n] < p)

    def picks(self, rows: np.ndarray) -> np.ndarray:
        """Uniforms that choose the acquirer of each of ``rows``."""
        return self.u_pick[rows]


class SparseDraws:
    """The same draws as :class:`RowDraws` of independent uniforms, in distribution, made only
    for the rows a rule reads (what the model uses).

    A row is an acquisition candidate when its uniform is under ``p``: independently with
    probability ``p``. So the candidates are a uniformly random set of Binomial(n, p) rows,
    drawn directly instead of through n uniforms; the acquirer and follow-on draws are made for
    the candidates and the rows asking for a round only. With 100k startups (a million rows by
    the 2030s) this replaces three uniforms per row and month with a few thousand.
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def rounds(self, rows: np.ndarray) -> np.ndarray:
        return self.rng.random(rows.size)

    def candidates(self, n: int, p: float) -> np.ndarray:
        if n <= 0 or not p > 0:
            return np.zeros(0, dtype=np.intp)
        if p >= 1:
            return np.arange(n, dtype=np.intp)
        k = int(self.rng.binomial(n, p))
        rows = self.rng.choice(n, size=k, replace=False, shuffle=False).astype(np.intp, copy=False)
        rows.sort()
        return rows

    def picks(self, rows: np.ndarray) -> np.ndarray:
        return self.rng.random(rows.size)


def settle_month(s: dict[str, np.ndarray], app_spend: float, provider_weight: np.ndarray, model_revenue: np.ndarray,
                 fee_share: float, venture_usd: float, follow_on_months: float, sentiment: float,
                 acq_rate: float, acq_multiple: float, lab_cash: np.ndarray, lab_blocked: np.ndarray,
                 u_acq: np.ndarray | None, u_pick: np.ndarray | None, month: int, u_round: np.ndarray | None = None,
                 round_success: float = 1.0, reinvest: float = 0.0, lab_weight: np.ndarray | None = None,
                 draws: RowDraws | SparseDraws | None = None, held: AcquiredApps | None = None,
                 model_rows: np.ndarray | None = None, provider_labs: np.ndarray | None = None,
                 dead_rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One month of startup money: revenue, API fees, burn, follow-on rounds, failures, acquisitions.

    Args:
        s: state arrays (``cash``, ``burn``, ``revenue``, ``revenue_prev``, ``kind``, ``status``,
            ``provider``, ``acquirer``, ``exit_month``); ``cash``, ``revenue``, ``revenue_prev``,
            ``status``, ``acquirer`` and ``exit_month`` are updated in place (the model passes views
            of the population's arrays; pass copies to keep a state).
        app_spend: USD end customers spend through app startups this month.
        provider_weight: (n_labs,) attractiveness of each lab's API (its score) for app traction.
        model_revenue: (n,) revenue of model startups from the services market this month.
        fee_share: share of app revenue paid to the provider lab.
        venture_usd: follow-on money available this month.
        lab_cash: (n_labs,) cash each lab can spend on acquisitions; lab_blocked: (n_labs,) antitrust.
        lab_weight: (n_labs,) strategic interest in acquisitions (the model passes revenue): the
            acquirer is drawn with probability proportional to cash x weight.
        u_acq, u_pick: (n,) uniform draws for acquisition and for the choice of acquirer.
        u_round: (n,) uniform draws for follow-on rounds; a startup with under six months of runway
            closes a round in a month with probability ``round_success x sentiment x (1 + revenue/burn)``
            (capped at 1).
        draws: instead of ``u_acq``, ``u_pick`` and ``u_round`` (pass None for those), an object
            that makes the draws when they are needed (:class:`SparseDraws`); the round draws are
            made before the acquisition draws.
        held: the acquired apps as sums (:class:`AcquiredApps`, updated in place with this
            month's acquired apps). Rows of ``s`` with status ``ACQUIRED`` are then left out:
            their apps are in ``held``. None: acquired apps are the rows of ``s`` with that status.
            The month is the same either way, up to rounding.
        model_rows: the ascending rows of ``s`` whose ``kind`` is ``MODEL`` (alive or not), and
        provider_labs: (n,) each row's ``provider`` clipped into ``[0, n_labs - 1]``, as intp; as
            :meth:`StartupPopulation.model_rows` and :meth:`StartupPopulation.provider_labs` keep
            them (None: found from ``s``, a pass over all rows each). Not changed.
        dead_rows: the ascending rows of ``s`` whose ``status`` is not ``ALIVE``, as
            :meth:`StartupPopulation.dead_rows` keeps them (None: found from ``s``). Not changed.

    Returns:
        Flows: ``fees_by_lab``, ``acq_revenue_by_lab`` (revenue of acquired apps, to their owner),
        ``acq_price_by_lab``, ``acq_cash_by_lab`` (n_labs,); ``app_revenue``, ``model_revenue``
        (floats, of the startups alive); ``burn_paid``, ``follow_on``, ``price`` (acquisition price,
        zero but for the startups acquired) (n,); ``failed``, ``acquired`` (n,) bool masks, and
        ``failed_rows``, ``acquired_rows`` their rows (ascending).
    """
    n_labs = len(provider_weight)
    n = len(s["cash"])
    if draws is None:
        draws = RowDraws(u_acq, u_pick, u_round)
    elif u_acq is not None or u_pick is not None or u_round is not None:
        raise ValueError("settle_month: pass either the draws u_acq, u_pick, u_round or draws=, not both")
    kind, status, burn = s["kind"], s["status"], s["burn"]
    cash, revenue, revenue_prev = s["cash"], s["revenue"], s["revenue_prev"]
    # Implementation: subsets of rows are index arrays, so that a masked select (np.where) over all
    # rows becomes a scatter into a few, and arithmetic is in place where a fresh full-length array
    # is not needed. Every element gets the arithmetic of settle_month_reference in the same order,
    # and every sum runs over the same full-length array (zeros included) or the same selection,
    # in the same order, as a straightforward np.where formulation: the results are bit for bit
    # the same (numpy's pairwise sums depend on the length and layout of what they add).
    alive = status == ALIVE
    models = np.flatnonzero(kind != APP) if model_rows is None else model_rows
    # the apps that earn as rows: those alive, and those acquired unless ``held`` has them
    if held is None:
        app_open = (kind == APP) & (status != FAILED)
    else:  # (the rows alive but the model startups': no pass over the kinds)
        app_open = alive.copy()
        app_open[models] = False
    dead = np.flatnonzero(~alive) if dead_rows is None else dead_rows
    alive_models = models[alive[models]]
    # an app's provider lab (clipped into a fresh intp array: one pass, not a cast and a clip)
    prov = _lab_rows(s["provider"], n_labs, out=np.empty(n, dtype=np.intp)) if provider_labs is None else provider_labs
    # app revenue: traction (last month's revenue plus a base) x the provider's quality
    base = app_spend / max(np.count_nonzero(app_open) + (held.n if held is not None else 0), 1) * 0.1
    # ``scratch``: a work array, in turn each row's provider weight, fees, amount due, bounds,
    # then the acquisition prices (returned)
    scratch = np.asarray(provider_weight, dtype=float).take(prov)
    app_rev = revenue_prev + base  # the weights w (zero but for the open apps), then app_spend * w / sum(w)
    app_rev *= scratch
    # the rows that are not open apps: the model startups, and the apps dead (failed only when
    # ``held`` is None), as index arrays rather than a mask over all rows
    app_rev[models] = 0.0
    app_rev[dead if held is not None else np.flatnonzero(status == FAILED)] = 0.0
    wsum = app_rev.sum()
    if held is not None:  # the held apps' weights by (provider, owner)
        w_held = held.revenue + base * held.count
        w_held *= np.asarray(provider_weight, dtype=float)[:, None]
        wsum = wsum + w_held.sum()
    if wsum > 0:
        app_rev *= app_spend
        app_rev /= wsum
    else:
        app_rev[:] = 0.0
    # an acquired app's revenue goes to its owner
    if held is None:
        sold = np.flatnonzero((kind == APP) & (status == ACQUIRED))
        acq_owner = np.clip(s["acquirer"][sold], 0, n_labs - 1)
        acq_revenue_by_lab = np.bincount(acq_owner, weights=app_rev[sold], minlength=n_labs)
        app_rev[sold] = 0.0
    else:
        acq_revenue_by_lab = w_held.sum(axis=0) * app_spend / wsum if wsum > 0 else np.zeros(n_labs)
    # (a boolean index selects the same values as compress, in the same order, faster)
    app_revenue = app_rev[app_open if held is not None else alive & (kind == APP)].sum()
    # API fees by provider lab: the rows of model startups add exactly zero. Their app revenue
    # and the dead rows' is 0 x app_spend / wsum: +0.0 when app_spend is finite and not negative,
    # and their fees +0.0 x fee_share, +0.0 when fee_share is too; otherwise they are zeroed.
    plain = _plain(app_spend) and _plain(fee_share)
    fees = np.multiply(app_rev, fee_share, out=scratch)
    if not plain:
        fees[models] = 0.0
    fees_by_lab = np.bincount(prov, weights=fees, minlength=n_labs)
    # revenue and fees of the startups alive (zero for the others: see above)
    fees_alive = fees
    if not plain:
        fees_alive[dead] = 0.0
    revenue[:] = 0.0
    revenue[alive_models] = model_revenue[alive_models]
    # this is the model revenue of the startups alive, zero elsewhere (the dead rows' revenue is
    # their app revenue + 0.0: zeroed below unless it is +0.0 already)
    model_rev_sum = revenue.sum()
    np.add(app_rev, revenue, out=revenue)
    if not plain:
        revenue[dead] = 0.0
    cash += revenue
    cash -= fees_alive
    # startups reinvest most of their gross margin in growth (staff, sales)
    due = np.subtract(revenue, fees_alive, out=fees_alive)
    np.maximum(due, 0.0, out=due)
    due *= reinvest
    np.add(burn, due, out=due)
    burn_paid = np.maximum(cash, 0.0)
    np.minimum(due, burn_paid, out=burn_paid)
    burn_paid[dead] = 0.0
    cash -= burn_paid
    # follow-on rounds for startups with under six months of runway, by traction, within the pool
    low = np.less(cash, np.multiply(burn, 6.0, out=scratch))
    low &= alive
    asking = low_rows = np.flatnonzero(low)
    traction = np.maximum(burn[asking], 1.0)
    np.divide(revenue[asking], traction, out=traction)
    traction += 1.0
    u_asking = draws.rounds(asking)
    if u_asking is not None:
        p_round = round_success * sentiment * traction
        np.minimum(p_round, 1.0, out=p_round)
        closes = u_asking < p_round
        asking, traction = asking[closes], traction[closes]
    follow = app_rev  # its last use was above: now the asks, then what the pool pays of them
    follow[:] = 0.0
    asks = follow_on_months * burn[asking] * sentiment * traction
    follow[asking] = asks
    ask_sum = follow.sum()
    scale = min(1.0, venture_usd / ask_sum) if ask_sum > 0 else 0.0
    if plain and _plain(scale):
        # the rounds paid, on the rows asking only: the others would get 0 x scale, +0.0 (scale
        # is finite and not negative), and their cash + 0.0 is their cash, as it is never -0.0
        # here (each row's revenue adds a +0.0, the app revenue of a model row with app_spend
        # not negative or the model revenue of an app row, so it is never -0.0, and cash +
        # revenue - fees - burn paid can only be -0.0 from a -0.0 revenue)
        asks *= scale
        follow[asking] = asks
        cash[asking] += asks
    else:
        follow *= scale
        cash += follow
    # cannot pay next month at all; with no burn negative (nor NaN), only a row short of six
    # months of runway can fail (6 x burn >= 1e-3 x burn, after rounding too), and the rounds
    # paid only raised the cash of some of those, so the test runs on those rows
    if _none_negative(burn):
        failing = low_rows[cash[low_rows] < burn[low_rows] * 1e-3]
        failed = np.zeros(n, dtype=bool)
        failed[failing] = True
    else:
        failed = np.less(cash, np.multiply(burn, 1e-3, out=scratch))
        failed &= alive
        failing = np.flatnonzero(failed)
    # acquisitions: a draw per startup, an acquirer by inverse CDF on lab cash; only the few
    # candidates (alive, not failing, with a draw under the rate) are priced and matched
    eligible = np.where(lab_blocked, 0.0, np.maximum(lab_cash, 0.0))
    pull = eligible * (np.ones(n_labs) if lab_weight is None else np.maximum(lab_weight, 0.0))
    cand = draws.candidates(n, acq_rate * sentiment) if pull.sum() > 0 else np.zeros(0, dtype=np.intp)
    cand = cand[alive[cand] & ~failed[cand]]
    cdf = np.cumsum(pull) / max(pull.sum(), 1e-300)
    pick = np.minimum(np.searchsorted(cdf, draws.picks(cand), side="right"), n_labs - 1)
    cash_c = np.maximum(cash[cand], 0.0)
    price_c = np.maximum(acq_multiple * 12.0 * revenue[cand], 0.0) + cash_c
    # a lab may spend at most half its cash on acquisitions in a month; otherwise it makes none
    tot = np.bincount(pick, weights=price_c, minlength=n_labs)
    ok = (tot <= 0.5 * eligible)[pick]
    won, pick, price_c, cash_c = cand[ok], pick[ok], price_c[ok], cash_c[ok]
    acq_price_by_lab = np.bincount(pick, weights=price_c - cash_c, minlength=n_labs)
    acq_cash_by_lab = np.bincount(pick, weights=cash_c, minlength=n_labs)
    acq = np.zeros(n, dtype=bool)
    acq[won] = True
    price = scratch  # its last use was above (filling it costs less than faulting in a new one)
    price[:] = 0.0
    price[won] = price_c
    cash[won] = 0.0
    s["acquirer"][won] = pick
    if held is not None:  # this month's acquired apps join the held sums, at this month's revenue
        won_app = kind[won] == APP
        held.add(prov[won[won_app]], pick[won_app], revenue[won[won_app]])
    status[failing] = FAILED
    status[won] = ACQUIRED
    s["exit_month"][failing] = month
    s["exit_month"][won] = month
    # the startups alive remember this month's revenue
    kept = revenue_prev[dead]
    revenue_prev[:] = revenue
    revenue_prev[dead] = kept
    return {
        "fees_by_lab": fees_by_lab, "acq_revenue_by_lab": acq_revenue_by_lab, "burn_paid": burn_paid,
        "app_revenue": float(app_revenue), "model_revenue": float(model_rev_sum),
        "follow_on": follow, "acq_price_by_lab": acq_price_by_lab, "acq_cash_by_lab": acq_cash_by_lab,
        "failed": failed, "acquired": acq, "price": price, "failed_rows": failing, "acquired_rows": won,
    }


def settle_month_reference(s: dict[str, list], app_spend, provider_weight, model_revenue, fee_share, venture_usd,
                           follow_on_months, sentiment, acq_rate, acq_multiple, lab_cash, lab_blocked,
                           u_acq, u_pick, month, u_round=None, round_success=1.0, reinvest=0.0, lab_weight=None):
    """The rules of :func:`settle_month` written one startup at a time (for tests and benchmarks)."""
    n = len(s["cash"])
    n_labs = len(provider_weight)
    out_fees = [0.0] * n_labs
    out_acq_rev = [0.0] * n_labs
    n_app_open = sum(1 for i in range(n) if s["kind"][i] == APP and s["status"][i] != FAILED)
    base = app_spend / max(n_app_open, 1) * 0.1
    weights = []
    for i in range(n):
        if s["kind"][i] == APP and s["status"][i] != FAILED:
            p = min(max(s["provider"][i], 0), n_labs - 1)
            weights.append((s["revenue_prev"][i] + base) * provider_weight[p])
        else:
            weights.append(0.0)
    wsum = sum(weights)
    revenue, fees, burn_paid, follow, asks = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    was_alive = [s["status"][i] == ALIVE for i in range(n)]
    cash = list(s["cash"])
    for i in range(n):
        app_rev = app_spend * weights[i] / wsum if wsum > 0 else 0.0
        if s["kind"][i] == APP and s["status"][i] == ACQUIRED:
            out_acq_rev[min(max(s["acquirer"][i], 0), n_labs - 1)] += app_rev
            app_rev = 0.0
        if not was_alive[i]:
            continue
        if s["kind"][i] == APP:
            revenue[i] = app_rev
            fees[i] = app_rev * fee_share
            out_fees[min(max(s["provider"][i], 0), n_labs - 1)] += fees[i]
        else:
            revenue[i] = model_revenue[i]
        cash[i] = cash[i] + revenue[i] - fees[i]
        due = s["burn"][i] + reinvest * max(revenue[i] - fees[i], 0.0)
        burn_paid[i] = min(due, max(cash[i], 0.0))
        cash[i] -= burn_paid[i]
        wants = cash[i] < 6.0 * s["burn"][i]
        if wants and u_round is not None:
            wants = u_round[i] < min(round_success * sentiment * (1.0 + revenue[i] / max(s["burn"][i], 1.0)), 1.0)
        if wants:
            asks[i] = follow_on_months * s["burn"][i] * sentiment * (1.0 + revenue[i] / max(s["burn"][i], 1.0))
    ask_sum = sum(asks)
    scale = min(1.0, venture_usd / ask_sum) if ask_sum > 0 else 0.0
    failed, acquired = [False] * n, [False] * n
    eligible = [0.0 if lab_blocked[j] else max(lab_cash[j], 0.0) for j in range(n_labs)]
    pull = [eligible[j] * (1.0 if lab_weight is None else max(lab_weight[j], 0.0)) for j in range(n_labs)]
    esum = sum(pull)
    cdf, run = [], 0.0
    for e in pull:
        run += e
        cdf.append(run / max(esum, 1e-300))
    picks, prices = [0] * n, [0.0] * n
    for i in range(n):
        if not was_alive[i]:
            continue
        follow[i] = asks[i] * scale
        cash[i] += follow[i]
        failed[i] = cash[i] < s["burn"][i] * 1e-3
        prices[i] = max(acq_multiple * 12.0 * revenue[i], 0.0) + max(cash[i], 0.0)
        j = 0
        while j < n_labs - 1 and cdf[j] <= u_pick[i]:
            j += 1
        picks[i] = j
        acquired[i] = (not failed[i]) and u_acq[i] < acq_rate * sentiment and esum > 0
    spend = [0.0] * n_labs
    for i in range(n):
        if acquired[i]:
            spend[picks[i]] += prices[i]
    acq_price, acq_cash = [0.0] * n_labs, [0.0] * n_labs
    for i in range(n):
        if acquired[i] and spend[picks[i]] > 0.5 * eligible[picks[i]]:
            acquired[i] = False
        if acquired[i]:
            acq_price[picks[i]] += prices[i] - max(cash[i], 0.0)
            acq_cash[picks[i]] += max(cash[i], 0.0)
            cash[i] = 0.0
            s["acquirer"][i] = picks[i]
            s["status"][i] = ACQUIRED
            s["exit_month"][i] = month
        elif failed[i]:
            s["status"][i] = FAILED
            s["exit_month"][i] = month
        if was_alive[i]:
            s["revenue_prev"][i] = revenue[i]
    for i in range(n):
        s["revenue"][i] = revenue[i] if was_alive[i] else 0.0
        s["cash"][i] = cash[i]
    return {"fees_by_lab": out_fees, "acq_revenue_by_lab": out_acq_rev, "burn_paid": burn_paid, "follow_on": follow,
            "acq_price_by_lab": acq_price, "acq_cash_by_lab": acq_cash, "failed": failed, "acquired": acquired}
