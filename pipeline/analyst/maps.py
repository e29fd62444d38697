"""Self-contained SVG maps of a vessel's track with gates, port areas, land, scale and north.

Pure: frames and arrays in, an SVG string out (no tiles, fonts or scripts from anywhere). The
projection is equirectangular, scaled by cos(latitude) at the map centre, so that around an
event (tens to a few hundred kilometres) shapes and the scale bar are true to within a percent
or two and north is straight up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd
import shapely

KM_PER_DEGREE_LAT = 111.195  # great-circle degree on a sphere of radius 6371 km
NM_PER_DEGREE_LAT = 60.0
KM_PER_NM = 1.852


@dataclass(frozen=True)
class MapStyle:
    width_px: int = 760
    height_px: int = 520
    sea_colour: str = "#dcebf7"
    land_colour: str = "#ebe4cf"
    coast_colour: str = "#a89f84"
    track_colour: str = "#d62728"
    silence_colour: str = "#6b6b6b"
    gate_colour: str = "#e6007e"
    port_colour: str = "#5b3b8c"
    event_colour: str = "#111111"
    track_width_px: float = 3.0
    gate_width_px: float = 4.0
    gap_threshold_h: float = 1.0  # a longer step between fixes is drawn as AIS silence


@dataclass(frozen=True)
class Extent:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    @property
    def lat_centre(self) -> float:
        return (self.lat_min + self.lat_max) / 2

    @property
    def lon_centre(self) -> float:
        return (self.lon_min + self.lon_max) / 2

    @classmethod
    def around(
        cls,
        lons: np.ndarray,
        lats: np.ndarray,
        *,
        aspect: float,
        min_span_km: float = 30.0,
        pad_fraction: float = 0.12,
    ) -> Extent:
        """The smallest extent of the given aspect (width / height) holding every point,
        padded, and at least `min_span_km` across."""
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        ok = np.isfinite(lons) & np.isfinite(lats)
        if not ok.any():
            raise ValueError("no finite point to centre a map on")
        lon0, lon1 = float(lons[ok].min()), float(lons[ok].max())
        lat0, lat1 = float(lats[ok].min()), float(lats[ok].max())
        lat_c = (lat0 + lat1) / 2
        coslat = max(math.cos(math.radians(lat_c)), 0.05)
        # work in km so that the aspect is the drawn one
        width_km = max((lon1 - lon0) * coslat * KM_PER_DEGREE_LAT, 1e-6)
        height_km = max((lat1 - lat0) * KM_PER_DEGREE_LAT, 1e-6)
        width_km, height_km = width_km * (1 + 2 * pad_fraction), height_km * (1 + 2 * pad_fraction)
        width_km = max(width_km, height_km * aspect, min_span_km)
        height_km = width_km / aspect
        half_lon = width_km / 2 / (coslat * KM_PER_DEGREE_LAT)
        half_lat = height_km / 2 / KM_PER_DEGREE_LAT
        lon_c = (lon0 + lon1) / 2
        return cls(
            max(lon_c - half_lon, -180.0),
            min(lon_c + half_lon, 180.0),
            max(lat_c - half_lat, -89.9),
            min(lat_c + half_lat, 89.9),
        )


@dataclass(frozen=True)
class MapLayers:
    """What to draw. Frames may be empty; coordinates are lon/lat (EPSG:4326)."""

    track: pd.DataFrame  # ts (UTC), lat, lon; sorted by ts
    gates: pd.DataFrame  # label, geometry (shapely LineString)
    ports: pd.DataFrame  # port_id, name, lat, lon, radius_nm
    events: pd.DataFrame  # ts, lat, lon, label
    land: list[np.ndarray] = field(default_factory=list)  # rings of (lon, lat)


class _Projection:
    def __init__(self, extent: Extent, width_px: int, height_px: int) -> None:
        self.extent = extent
        self.coslat = max(math.cos(math.radians(extent.lat_centre)), 0.05)
        sx = width_px / ((extent.lon_max - extent.lon_min) * self.coslat)
        sy = height_px / (extent.lat_max - extent.lat_min)
        self.px_per_deg_lat = min(sx, sy)

    def xy(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        k = self.px_per_deg_lat
        x = (np.asarray(lons, dtype=float) - self.extent.lon_min) * self.coslat * k
        y = (self.extent.lat_max - np.asarray(lats, dtype=float)) * k
        return np.column_stack([x, y])

    def px_per_km(self) -> float:
        return self.px_per_deg_lat / KM_PER_DEGREE_LAT


def _coords(xy: np.ndarray) -> list[str]:
    rounded = np.round(xy, 1)
    return np.char.add(
        np.char.add(rounded[:, 0].astype(str), ","), rounded[:, 1].astype(str)
    ).tolist()


def _polyline(xy: np.ndarray) -> str:
    return " ".join(_coords(xy))


def _ring_path(xy: np.ndarray) -> str:
    pts = _coords(xy)
    return "M" + pts[0] + " L" + " ".join(pts[1:]) + " Z"


def _nice(value: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above `value`."""
    if value <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(value))
    for m in (5, 2, 1):
        if m * power <= value:
            return m * power
    return power


def _dms(value: float, positive: str, negative: str) -> str:
    hemi = positive if value >= 0 else negative
    minutes_total = round(abs(value) * 60)
    deg, minutes = divmod(minutes_total, 60)
    return f"{deg}°{minutes:02d}′{hemi}" if minutes else f"{deg}°{hemi}"


def _graticule_step(span_deg: float) -> float:
    for step in (1 / 60, 2 / 60, 5 / 60, 10 / 60, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0):
        if span_deg / step <= 6:
            return step
    return 30.0


def _fmt_time(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%d %b %H:%M")


def render_map_svg(
    extent: Extent, layers: MapLayers, style: MapStyle = MapStyle(), *, map_id: str = "map"
) -> str:
    """One map as an inline <svg> element."""
    proj = _Projection(extent, style.width_px, style.height_px)
    w = style.width_px
    h = style.height_px
    out: list[str] = [
        f'<svg class="evidence-map" id="{escape(map_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'data-track-points="{len(layers.track)}" data-gates="{len(layers.gates)}" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
        f'<defs><clipPath id="{escape(map_id)}-clip">'
        f'<rect width="{w}" height="{h}"/></clipPath></defs>',
        f'<g clip-path="url(#{escape(map_id)}-clip)">',
        f'<rect width="{w}" height="{h}" fill="{style.sea_colour}"/>',
    ]
    # land
    if layers.land:
        d = " ".join(_ring_path(proj.xy(r[:, 0], r[:, 1])) for r in layers.land if len(r) >= 3)
        out.append(
            f'<path class="land" d="{d}" fill="{style.land_colour}" fill-rule="evenodd" '
            f'stroke="{style.coast_colour}" stroke-width="0.8"/>'
        )
    out.extend(_graticule(extent, proj, w, h))
    out.extend(_ports(layers.ports, proj, style))
    out.extend(_gates(layers.gates, proj, style))
    out.extend(_track(layers.track, proj, style))
    out.extend(_events(layers.events, proj, style))
    out.append("</g>")
    out.extend(_scale_bar(extent, proj, h))
    out.extend(_north_arrow(w))
    out.extend(_legend(style, w, h))
    out.append(f'<rect width="{w}" height="{h}" fill="none" stroke="#555" stroke-width="1"/></svg>')
    return "\n".join(out)


def _graticule(extent: Extent, proj: _Projection, w: int, h: int) -> list[str]:
    step = _graticule_step(max(extent.lon_max - extent.lon_min, extent.lat_max - extent.lat_min))
    lons = np.arange(math.ceil(extent.lon_min / step) * step, extent.lon_max, step)
    lats = np.arange(math.ceil(extent.lat_min / step) * step, extent.lat_max, step)
    out = ['<g class="graticule" stroke="#8aa3b8" stroke-width="0.5" stroke-dasharray="2 3">']
    xs = proj.xy(lons, np.full(len(lons), extent.lat_max))[:, 0]
    ys = proj.xy(np.full(len(lats), extent.lon_min), lats)[:, 1]
    out += [f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{h}"/>' for x in xs]
    out += [f'<line x1="0" y1="{y:.1f}" x2="{w}" y2="{y:.1f}"/>' for y in ys]
    out.append("</g>")
    out.append('<g class="graticule-labels" fill="#34495e" font-size="10">')
    out += [
        f'<text x="{x + 2:.1f}" y="11">{escape(_dms(lon, "E", "W"))}</text>'
        for x, lon in zip(xs, lons, strict=True)
    ]
    out += [
        f'<text x="2" y="{y - 2:.1f}">{escape(_dms(lat, "N", "S"))}</text>'
        for y, lat in zip(ys, lats, strict=True)
    ]
    out.append("</g>")
    return out


def _ports(ports: pd.DataFrame, proj: _Projection, style: MapStyle) -> list[str]:
    if ports.empty:
        return []
    xy = proj.xy(ports["lon"].to_numpy(), ports["lat"].to_numpy())
    radius = ports["radius_nm"].to_numpy(dtype=float) * KM_PER_NM * proj.px_per_km()
    out = [f'<g class="ports" stroke="{style.port_colour}" fill="{style.port_colour}">']
    for (x, y), r, name, pid in zip(xy, radius, ports["name"], ports["port_id"], strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{style.port_colour}" '
            f'fill-opacity="0.08" stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" stroke="none"/>'
            f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" stroke="none" font-weight="bold">'
            f"{escape(str(name))} ({escape(str(pid))})</text>"
        )
    out.append("</g>")
    return out


def _gates(gates: pd.DataFrame, proj: _Projection, style: MapStyle) -> list[str]:
    if gates.empty:
        return []
    out = [f'<g class="gates" stroke="{style.gate_colour}" fill="{style.gate_colour}">']
    for label, geom in zip(gates["label"], gates["geometry"], strict=True):
        lonlat = shapely.get_coordinates(geom)
        xy = proj.xy(lonlat[:, 0], lonlat[:, 1])
        out.append(
            f'<polyline points="{_polyline(xy)}" fill="none" '
            f'stroke-width="{style.gate_width_px}" stroke-linecap="round"/>'
        )
        # label beside the gate's upper end, clear of a track that crosses its middle
        end = xy[np.argmin(xy[:, 1])]
        out.append(
            f'<text x="{end[0] + 7:.1f}" y="{end[1] - 4:.1f}" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke" font-weight="bold">{escape(str(label))}</text>'
        )
    out.append("</g>")
    return out


def _track(track: pd.DataFrame, proj: _Projection, style: MapStyle) -> list[str]:
    if track.empty:
        return []
    xy = proj.xy(track["lon"].to_numpy(), track["lat"].to_numpy())
    ts = pd.DatetimeIndex(track["ts"])
    step_h = np.diff(ts.as_unit("ns").asi8) / 3.6e12 if len(ts) > 1 else np.array([])
    silent = np.flatnonzero(step_h > style.gap_threshold_h)
    out = ['<g class="track">']
    for a, b in zip(xy[silent], xy[silent + 1], strict=True):
        out.append(
            f'<line class="silence" x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" '
            f'y2="{b[1]:.1f}" stroke="{style.silence_colour}" stroke-width="2" '
            f'stroke-dasharray="6 4"/>'
        )
    for piece in np.split(xy, silent + 1):
        if len(piece) >= 2:
            out.append(
                f'<polyline class="track-line" points="{_polyline(piece)}" fill="none" '
                f'stroke="{style.track_colour}" stroke-width="{style.track_width_px}" '
                f'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        else:
            out.append(
                f'<circle cx="{piece[0][0]:.1f}" cy="{piece[0][1]:.1f}" r="2.5" '
                f'fill="{style.track_colour}"/>'
            )
    for idx, label in ((0, "first fix"), (len(xy) - 1, "last fix")):
        x, y = xy[idx]
        out.append(
            f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="#ffffff" '
            f'stroke="{style.track_colour}" stroke-width="1.5"/>'
            f'<text x="{x + 7:.1f}" y="{y + 4:.1f}" fill="#7a1010" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke">{label} {escape(_fmt_time(ts[idx]))}</text>'
        )
    out.append("</g>")
    return out


def _events(events: pd.DataFrame, proj: _Projection, style: MapStyle) -> list[str]:
    if events.empty:
        return []
    xy = proj.xy(events["lon"].to_numpy(), events["lat"].to_numpy())
    out = [f'<g class="events" stroke="{style.event_colour}">']
    for (x, y), label in zip(xy, events["label"], strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="none" stroke-width="2"/>'
            f'<text x="{x + 11:.1f}" y="{y - 9:.1f}" fill="{style.event_colour}" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke" font-weight="bold">{escape(str(label))}</text>'
        )
    out.append("</g>")
    return out


def _scale_bar(extent: Extent, proj: _Projection, h: int) -> list[str]:
    width_km = (extent.lon_max - extent.lon_min) * proj.coslat * KM_PER_DEGREE_LAT
    km = _nice(width_km / 4)
    length = km * proj.px_per_km()
    x0, y0 = 14.0, h - 22.0
    half = length / 2
    nm = km / KM_PER_NM
    km_text = f"{km:g} km"
    return [
        '<g class="scale-bar" font-size="11">',
        f'<rect x="{x0 - 6:.1f}" y="{y0 - 24:.1f}" width="{length + 80:.1f}" height="38" '
        'fill="#ffffff" fill-opacity="0.85" stroke="#888" stroke-width="0.5"/>',
        f'<rect x="{x0:.1f}" y="{y0 - 4:.1f}" width="{half:.1f}" height="6" fill="#222"/>',
        f'<rect x="{x0 + half:.1f}" y="{y0 - 4:.1f}" width="{half:.1f}" height="6" '
        'fill="#ffffff" stroke="#222" stroke-width="1"/>',
        f'<text x="{x0:.1f}" y="{y0 - 9:.1f}">0</text>',
        f'<text x="{x0 + length:.1f}" y="{y0 - 9:.1f}" text-anchor="middle">{km_text}</text>',
        f'<text x="{x0 + length + 8:.1f}" y="{y0 + 3:.1f}">({nm:.3g} nm)</text>',
        f'<text x="{x0:.1f}" y="{y0 + 13:.1f}" font-size="9" fill="#444">'
        "scale at map centre</text>",
        "</g>",
    ]


def _north_arrow(w: int) -> list[str]:
    x, y = w - 30, 18
    return [
        '<g class="north-arrow">',
        f'<circle cx="{x}" cy="{y + 20}" r="19" fill="#ffffff" fill-opacity="0.85" stroke="#888"/>',
        f'<polygon points="{x},{y + 4} {x - 8},{y + 30} {x},{y + 24} {x + 8},{y + 30}" '
        'fill="#222"/>',
        f'<text x="{x}" y="{y + 52}" text-anchor="middle" font-weight="bold" font-size="14" '
        'stroke="#ffffff" stroke-width="3" paint-order="stroke">N</text>',
        "</g>",
    ]


def _legend(style: MapStyle, w: int, h: int) -> list[str]:
    items = [
        (
            f'<line x1="0" y1="0" x2="22" y2="0" stroke="{style.track_colour}" stroke-width="3"/>',
            "AIS track",
        ),
        (
            f'<line x1="0" y1="0" x2="22" y2="0" stroke="{style.silence_colour}" '
            'stroke-width="2" stroke-dasharray="6 4"/>',
            f"AIS silence > {style.gap_threshold_h:g} h",
        ),
        (
            f'<line x1="0" y1="0" x2="22" y2="0" stroke="{style.gate_colour}" stroke-width="4"/>',
            "chokepoint gate",
        ),
        (
            f'<circle cx="11" cy="0" r="6" fill="none" stroke="{style.port_colour}" '
            'stroke-dasharray="3 2"/>',
            "port area",
        ),
        (
            f'<circle cx="11" cy="0" r="6" fill="none" stroke="{style.event_colour}" '
            'stroke-width="2"/>',
            "event (AIS)",
        ),
    ]
    box_w, line_h = 150, 16
    box_h = line_h * len(items) + 8
    x0, y0 = w - box_w - 8, h - box_h - 8
    out = [
        f'<g class="legend" transform="translate({x0},{y0})">',
        f'<rect width="{box_w}" height="{box_h}" fill="#ffffff" fill-opacity="0.9" stroke="#888" '
        'stroke-width="0.5"/>',
    ]
    for i, (symbol, text) in enumerate(items):
        y = 12 + i * line_h
        out.append(
            f'<g transform="translate(8,{y})">{symbol}</g>'
            f'<text x="36" y="{y + 4}">{escape(text)}</text>'
        )
    out.append("</g>")
    return out
