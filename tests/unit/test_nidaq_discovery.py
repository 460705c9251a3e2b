"""`rig devices` against the real nidaqmx.system classes over an autospecced interpreter."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from nidaqmx._base_interpreter import BaseInterpreter
from nidaqmx.errors import DaqError

from drivers.nidaq.discovery import format_devices, list_devices
from rig.cli import main

DEVICE_STRINGS = {
    0x631: "PCIe-6353",
    0x231E: ", ".join(f"Dev1/ai{i}" for i in range(32)),
    0x231F: ", ".join(f"Dev1/ao{i}" for i in range(4)),
    0x2322: ", ".join(f"Dev1/port0/line{i}" for i in range(32)),
    0x2324: ", ".join(f"Dev1/ctr{i}" for i in range(4)),
    0x2325: ", ".join(f"Dev1/ctr{i}" for i in range(4)),
}


@pytest.fixture
def interp():
    i = mock.create_autospec(BaseInterpreter, instance=True, spec_set=True)
    i.get_system_info_attribute_string.side_effect = lambda attr: {0x193B: "Dev1"}[attr]
    i.get_system_info_attribute_uint32.side_effect = lambda attr: {
        0x1272: 24, 0x1923: 5, 0x2F22: 0}[attr]
    i.get_device_attribute_string.side_effect = lambda dev, attr: DEVICE_STRINGS[attr]
    i.get_device_attribute_bool.return_value = True
    i.get_device_attribute_double.side_effect = lambda dev, attr: {
        0x298C: 1.0e6, 0x298D: 1.0e6}[attr]
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = i
        yield i


def test_list_devices_reports_channels_and_rate(interp):
    info = list_devices()
    assert info["driver_installed"] and info["driver_version"] == "24.5.0"
    (d,) = info["devices"]
    assert d["name"] == "Dev1" and d["product_type"] == "PCIe-6353" and d["simulated"]
    assert (len(d["ai"]), len(d["ao"]), len(d["do"]), len(d["ci"])) == (32, 4, 32, 4)
    assert d["ao"][0] == "Dev1/ao0" and d["ai_max_multi_chan_rate_hz"] == 1.0e6
    text = format_devices(info)
    assert "Dev1: PCIe-6353 (simulated)" in text and "1000000 S/s" in text


def test_missing_property_is_reported_as_absent(interp):
    def no_rate(dev, attr):
        raise DaqError("property not supported", -200197)

    interp.get_device_attribute_double.side_effect = no_rate
    (d,) = list_devices()["devices"]
    assert d["ai_max_multi_chan_rate_hz"] is None and len(d["ai"]) == 32


def test_rig_devices_without_driver(capsys):
    """No NI driver on this machine: exit 0, says so, JSON is one document."""
    assert main(["devices", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"driver_installed": False, "driver_version": None, "devices": [],
                   "message": out["message"]}
    assert "not installed" in out["message"]
    assert main(["devices"]) == 0
    assert "not installed" in capsys.readouterr().out
