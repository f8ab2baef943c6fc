"""A spec-conformant CNI plugin that configures nothing.

``sysfake-cni-noop`` answers the CNI protocol (spec 0.3.0 to 1.1.0) and hands
out addresses from a host-local style ``ipam`` section, but creates no
interface, route or firewall rule. Inside sandboxes such as gVisor, where the
``bridge`` and ``ptp`` plugins fail, it lets a runtime (containerd, k3s) get a
pod sandbox past CNI with an address on ``eth0``.

Modules, one concern each:

- :mod:`sysfake.cni.errors`   -- the CNI error result and its codes
- :mod:`sysfake.cni.version`  -- supported spec versions
- :mod:`sysfake.cni.environ`  -- ``CNI_*`` environment variables
- :mod:`sysfake.cni.netconf`  -- the plugin configuration on stdin
- :mod:`sysfake.cni.ranges`   -- address ranges (pure address arithmetic)
- :mod:`sysfake.cni.ipam`     -- the persistent, locked allocation store
- :mod:`sysfake.cni.result`   -- success results and ``prevResult`` merging
- :mod:`sysfake.cni.plugin`   -- the commands and the executable's ``main``
- :mod:`sysfake.cni.install`  -- putting the executable in a CNI bin dir
"""

from __future__ import annotations

PLUGIN_NAME = "sysfake-cni-noop"

__all__ = ["PLUGIN_NAME"]
