"""Inter-annotator agreement on the four FG-Text dimensions and on their joint 4-tuple.

Every dimension is a nominal variable. A *unit* is a clip, a *value* is one annotator's label of
one dimension. Missing values (None, "", NaN; surrounding whitespace is trimmed) are left out, and
a clip takes part in a coefficient only when it has at least two values of that variable
("pairable"); a clip labelled by one annotator is simply not pairable.

Coefficients (each figure is keyed by its coefficient's name):

- ``krippendorff_alpha``: nominal alpha with missing data. With the coincidence matrix
  o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1) (n_uc: values c in clip u, m_u: values in u),
  its marginals n_c and n = sum_c n_c: alpha = 1 - (n - 1) * sum_{c != k} o_ck /
  (n^2 - sum_c n_c^2). The point value comes from the ``krippendorff`` package; where its dense
  units x V x V intermediate would exceed ``_PACKAGE_MAX_CELLS`` cells (many categories in use, as
  in the tuple) the same formula is evaluated on sparse coincidence counts instead ("method"
  says which; the tests check the two agree). ``ci95`` is a percentile bootstrap (2.5 and 97.5
  percentiles) over clips: each resample draws the clips that have at least two annotations
  with replacement, the same draws for every variable, and its alpha is computed from per-clip
  coincidence sums prepared once, as matrix products over the resample counts (no call of the
  package per resample). The same seed gives the same interval.
- ``fleiss_kappa``: Fleiss (1971) assumes the same number of ratings per unit, so it is computed
  over the clips with exactly m values, m being the most common number among pairable clips
  (the larger on a tie); its "note" says how many clips that leaves out.
- ``percent_agreement``: mean over pairable clips of the share of agreeing value pairs.
- ``cohen_kappa``: Cohen's kappa of every pair of annotators over the clips both labelled.
- ``per_class``: alpha (the same formula) and percent agreement within each clip class, when
  the labels give classes.
- ``confusion``: the coincidence matrix o_ck itself (which categories annotators confuse), on
  the most frequent categories, the rest pooled as "(other)".
- the ``tuple`` variable: the four values joined by " | " as one nominal variable; a label with
  any dimension missing is missing for the tuple.

Degenerate inputs give None (JSON null) with a "note" saying why: never NaN, a crash or a
warning.

- No pairable clip (e.g. one annotator only, or every clip labelled once): every coefficient None.
- One category in use by every pairable value: alpha and Fleiss' kappa are 0/0 (no expected
  disagreement) and reported as None, "undefined: only one category in use"; percent agreement
  is then 1.0. We do not turn perfect-but-invariant data into alpha = 1: such data cannot show
  that annotators distinguish anything.
- Cohen's kappa is None for a pair sharing fewer than two clips or whose kappa is 0/0 (both used
  one and the same category); the diagonal is 1.0 for annotators with at least two values.
- A bootstrap resample whose alpha is 0/0 is skipped; ci95 is None when the point value is.

Beyond agreement, the reliability model (`fgtext.agreement.dawid_skene`): Dawid-Skene per
dimension gives each annotator's confusion matrix and estimated accuracy and each clip's
posterior (`fit_reliability`). Whether suggestions on the annotation page bias the labels
(`fgtext.agreement.suggestion_bias`): agreement, gold accuracy and time per suggestion condition
(`suggestion_bias`).
"""

from fgtext.agreement.coefficients import TUPLE, TUPLE_SEPARATOR
from fgtext.agreement.dawid_skene import Reliability, fit_reliability
from fgtext.agreement.labels import LABEL_SUFFIXES, LabelTable, load_labels
from fgtext.agreement.report import AgreementReport, agreement_report, agreement_summary
from fgtext.agreement.suggestion_bias import SuggestionRecord, suggestion_bias

__all__ = [
    "LABEL_SUFFIXES",
    "TUPLE",
    "TUPLE_SEPARATOR",
    "AgreementReport",
    "LabelTable",
    "Reliability",
    "SuggestionRecord",
    "agreement_report",
    "agreement_summary",
    "fit_reliability",
    "load_labels",
    "suggestion_bias",
]
