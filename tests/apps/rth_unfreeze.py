# A custom runtime hook (run before oxmp's): the app starts with sys.frozen false, as under a freezer that does not
# set it.
import sys

sys.frozen = False
