"""Reading, validating and holding trial data (CDISC ADaM-style tables).

- :func:`load_trial` reads a trial folder (trial.toml plus CSV / Parquet / SAS tables) and
  validates it; :class:`Trial` holds the tables with proper dtypes.
- :func:`validate_folder` validates a folder without raising (used by ``trialstats validate``).
- :mod:`~trialstats.data.schema` declares the columns of each table; one engine
  (:mod:`~trialstats.data.validation`) checks them and reports every problem at once.
"""

from .metadata import TrialMeta
from .trial import Trial, load_trial, validate_folder
from .validation import Problem, ValidationReport

__all__ = ["Problem", "Trial", "TrialMeta", "ValidationReport", "load_trial", "validate_folder"]
