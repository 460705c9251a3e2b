"""Colours: the Okabe–Ito colour-blind-safe palette and the dark/light themes (no Qt import)."""

from __future__ import annotations

from dataclasses import dataclass

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

# One colour per pathway in the time course / I/O view (S1, S2, …).
PATHWAY_COLOURS: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["orange"],
    OKABE_ITO["sky_blue"],
)

# Sweep panel: latest sweep, running average, baseline average (same in every pathway's plot).
# The baseline average is drawn dashed in the theme's foreground colour (orange would read as S2).
SWEEP_COLOURS: dict[str, str] = {
    "latest": "#8C8C8C",  # neutral grey, thin: the noisy single sweep
    "average": OKABE_ITO["sky_blue"],
    "baseline": "foreground",
    "marker": OKABE_ITO["vermillion"],
    "slope": OKABE_ITO["bluish_green"],
}

# Measurement windows (draggable regions) and phase shading, drawn translucent.
WINDOW_COLOURS: dict[str, str] = {
    "baseline": OKABE_ITO["sky_blue"],
    "volley": OKABE_ITO["yellow"],
    "slope": OKABE_ITO["bluish_green"],
    "peak": OKABE_ITO["reddish_purple"],
}
PHASE_COLOURS: dict[str, str] = {
    "baseline": OKABE_ITO["sky_blue"],
    "drug": OKABE_ITO["bluish_green"],
    "induction": OKABE_ITO["vermillion"],
    "followup": OKABE_ITO["yellow"],
    "io_curve": OKABE_ITO["reddish_purple"],
}
DEFAULT_PHASE_COLOUR = "#888888"

# The header banner (background, text): readable from 2 m in both themes.
BANNER_COLOURS: dict[str, tuple[str, str]] = {
    "alarm": ("#C0392B", "#FFFFFF"),
    "held": (OKABE_ITO["orange"], "#000000"),
    "paused": (OKABE_ITO["yellow"], "#000000"),
    "ended": (OKABE_ITO["blue"], "#FFFFFF"),
}


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    foreground: str  # axes, text
    muted: str  # secondary text, 100 % line
    alarm: str  # gaps/overruns > 0, alarms
    shade_alpha: int  # 0–255 for phase shading / windows


DARK = Theme("dark", "#111111", "#E8E8E8", "#9A9A9A", "#FF5A36", 45)
LIGHT = Theme("light", "#FFFFFF", "#111111", "#666666", "#C0392B", 40)
THEMES: dict[str, Theme] = {"dark": DARK, "light": LIGHT}


def phase_colour(kind: str) -> str:
    """Shading colour for a phase kind ("baseline", "drug", "induction", "followup", …)."""
    k = kind.lower().replace("-", "").replace("_", "")
    for key, colour in PHASE_COLOURS.items():
        if k.startswith(key.replace("_", "")):
            return colour
    if k.startswith("follow"):
        return PHASE_COLOURS["followup"]
    if k.startswith("io"):
        return PHASE_COLOURS["io_curve"]
    return DEFAULT_PHASE_COLOUR


def pathway_colour(pathway_pos: int) -> str:
    """Colour of the pathway at position ``pathway_pos`` in RunStart.pathways."""
    return PATHWAY_COLOURS[pathway_pos % len(PATHWAY_COLOURS)]
