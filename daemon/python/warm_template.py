# Started by the warm daemon as `python [the tool's flags] warm_template.py`
# with its runtime link on fd 3: becomes the template for one pool. Puts its
# own directory on sys.path just long enough to import the runtime.
import sys

_here = __file__.rpartition("/")[0]
if sys.path and sys.path[0] == _here:
    del sys.path[0]
sys.path.insert(0, _here)
try:
    from _warm_runtime import template
finally:
    sys.path.remove(_here)
template.main()
