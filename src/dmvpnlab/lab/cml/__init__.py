"""Lab files from elsewhere: CML 2 YAML (0.0.x-0.3.x), VIRL 1 XML, and dmvpnlab's own wired format.

`load_lab_file(path)` reads any lab file `up` accepts (native topologies too) and returns
the model to build; `LabFileError` is a broken file's one-paragraph message (exit 2).
`dump_wired` writes the wired format `dmvpnlab import -o` produces.
"""

from dmvpnlab.lab.cml.errors import LabFileError
from dmvpnlab.lab.cml.loader import load_cml, load_lab_file, load_virl
from dmvpnlab.lab.cml.wiredfile import WIRED_FORMAT, dump_wired, load_wired

__all__ = ["LabFileError", "load_lab_file", "load_cml", "load_virl", "load_wired", "dump_wired", "WIRED_FORMAT"]
