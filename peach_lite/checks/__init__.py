"""Exercise checkers: ``check_<name>(student_fn)`` compares a student's function with the package's
own reference implementation, so exercises and solutions cannot drift apart.

Taught in notebooks/00_how_to_use.py (section "Your first exercise").
"""
from peach_lite.checks._core import CheckResult, compare_function  # noqa: F401
from peach_lite.checks.basics import *  # noqa: F401,F403
from peach_lite.checks.pearl import *  # noqa: F401,F403
from peach_lite.checks.sac import *  # noqa: F401,F403
from peach_lite.checks.hac import *  # noqa: F401,F403
from peach_lite.checks.belief import *  # noqa: F401,F403
from peach_lite.checks.envs import *  # noqa: F401,F403
from peach_lite.checks.mql import *  # noqa: F401,F403
from peach_lite.checks.mlsh import *  # noqa: F401,F403
from peach_lite.checks.hiro_fun import *  # noqa: F401,F403
from peach_lite.checks.peach import *  # noqa: F401,F403
