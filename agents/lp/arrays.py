"""A linear model built from numpy arrays and handed to HiGHS (highspy) as one sparse matrix.

For models with tens of thousands of rows (a portfolio of 100 assets) pyomo's scalar expressions take seconds
to build and translate; here a family of variables is an array of column indices and a family of constraints
one call with broadcast coefficient arrays, as linopy does. The :class:`highspy.Highs` instance is kept, so
re-solves change only costs and bounds (HiGHS warm-starts from the previous basis).

Each family knows the time step at which each element along its last axis starts, so the basis of a model
over a window of time can be placed into a model of the same form over a longer period
(:meth:`ArrayLP.basis_from`): a long horizon is warm-started from its windows' solutions.
"""

from __future__ import annotations

import os
import sys

import numpy as np

INF = np.inf
NO_STEP = np.iinfo(np.int64).max  # the step of an empty family: matches none


class ArrayLP:
    """Columns and rows collected as arrays; :meth:`highs` builds the solver instance once."""

    def __init__(self) -> None:
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (row, col, coef) triplets
        self._row_lo: list[np.ndarray] = []
        self._row_hi: list[np.ndarray] = []
        self.n_cols = self.n_rows = 0
        self._col_step: list[np.ndarray] = []
        self.families: list[tuple[bool, np.ndarray, np.ndarray]] = []  # (is_row, indices, steps of the last axis)

    def var(self, shape: tuple[int, ...], lb=0.0, ub=INF, *, integer: bool = False,
            steps: np.ndarray | None = None) -> np.ndarray:
        """A family of variables; returns their column indices with ``shape``. Bounds broadcast to it.
        ``steps``: the time step at which each element along the last axis starts (default: the index)."""
        size = int(np.prod(shape))
        cols = np.arange(self.n_cols, self.n_cols + size).reshape(shape)
        self.n_cols += size
        steps = np.arange(shape[-1]) if steps is None else np.asarray(steps, dtype=int)
        self._col_step.append(np.broadcast_to(steps, shape).ravel())
        self.families.append((False, cols, steps))
        self._lb.append(np.broadcast_to(np.asarray(lb, float), shape).ravel())
        self._ub.append(np.broadcast_to(np.asarray(ub, float), shape).ravel())
        self._integer.append(np.full(size, integer))
        return cols

    def rows(self, terms: list[tuple[object, np.ndarray]], lo=-INF, hi=INF, *,
             shape: tuple[int, ...] | None = None) -> np.ndarray:
        """A family of constraints ``lo <= sum_k coef_k * x[cols_k] <= hi``, one row per element of ``shape``
        (default: the broadcast shape of all coefficients, columns and bounds). A term whose columns have more
        axes than the rows (numpy broadcasting from the right) is summed over the extra ones, e.g. columns
        (N, T) into rows (T,) or, with ``shape=(N, 1)``, into one row per asset. A row's time step is its
        first term's (the earliest of a sum). Returns the row indices."""
        if shape is None:
            shape = np.broadcast_shapes(*(np.shape(c) for _, c in terms), *(np.shape(k) for k, _ in terms),
                                        np.shape(lo), np.shape(hi))
        size = int(np.prod(shape))
        rows = np.arange(self.n_rows, self.n_rows + size).reshape(shape)
        self.n_rows += size
        for coef, cols in terms:
            full = np.broadcast_shapes(shape, np.shape(cols), np.shape(coef))
            self._rows.append((np.broadcast_to(rows, full).ravel(), np.broadcast_to(cols, full).ravel(),
                               np.broadcast_to(np.asarray(coef, float), full).ravel()))
        self._row_lo.append(np.broadcast_to(np.asarray(lo, float), shape).ravel())
        self._row_hi.append(np.broadcast_to(np.asarray(hi, float), shape).ravel())
        first = terms[0][1]
        step = np.concatenate(self._col_step)[np.broadcast_to(first, np.broadcast_shapes(shape, np.shape(first)))]
        self.families.append((True, rows, step.reshape(-1, shape[-1]).min(axis=0, initial=NO_STEP)))
        return rows

    def basis_from(self, windows: list[tuple[ArrayLP, object, int, int]]):
        """A starting basis for this model from solved models of the same form over windows of its period.

        ``windows``: (model, its :class:`highspy.HighsBasis`, the step at which it starts in this model, the
        number of its steps to take). Every column and row of a taken step gets the window's status; the rest
        are basic rows and columns at their lower bound. The basis is marked alien: HiGHS completes or trims
        it to a factorable basis, so windows need not add up to a basis of this model."""
        import highspy

        col = np.full(self.n_cols, highspy.HighsBasisStatus.kLower.value)
        row = np.full(self.n_rows, highspy.HighsBasisStatus.kBasic.value)
        for model, basis, start, length in windows:
            status = {False: np.array([s.value for s in basis.col_status]),
                      True: np.array([s.value for s in basis.row_status])}
            for (is_row, mine, steps), (_, theirs, their_steps) in zip(self.families, model.families, strict=True):
                taken = np.flatnonzero(their_steps < length)
                at = np.searchsorted(steps, their_steps[taken] + start).clip(max=steps.size - 1)
                hit = steps[at] == their_steps[taken] + start
                (row if is_row else col)[mine[..., at[hit]]] = status[is_row][theirs[..., taken[hit]]]
        members = np.array(sorted(highspy.HighsBasisStatus.__members__.values(), key=lambda s: s.value))
        start_basis = highspy.HighsBasis()
        start_basis.col_status, start_basis.row_status = members[col].tolist(), members[row].tolist()
        start_basis.alien = start_basis.valid = True
        return start_basis

    def highs(self, *, maximize: bool = True):
        """The HiGHS instance with every column, row and integrality (costs start at 0; set them per solve)."""
        import highspy
        from scipy.sparse import csc_matrix

        row = np.concatenate([r for r, _, _ in self._rows])
        col = np.concatenate([c for _, c, _ in self._rows])
        val = np.concatenate([v for _, _, v in self._rows])
        matrix = csc_matrix((val, (row, col)), shape=(self.n_rows, self.n_cols))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()  # terms with a zero coefficient, e.g. the step before the first
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lp.col_cost_ = np.zeros(self.n_cols)
        lp.col_lower_, lp.col_upper_ = np.concatenate(self._lb), np.concatenate(self._ub)
        lp.row_lower_, lp.row_upper_ = np.concatenate(self._row_lo), np.concatenate(self._row_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        integer = np.concatenate(self._integer)
        if integer.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in integer]
        lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        h = _silent_highs()
        h.passModel(lp)
        return h


def _silent_highs():
    """A HiGHS instance that logs nothing; the first one in a process prints a banner to the standard output's
    file descriptor, which is pointed at the null device while it is made."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h
