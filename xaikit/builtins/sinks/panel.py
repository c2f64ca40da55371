"""Image | map | overlay side by side, captioned with the class, the map's stability and the
score explained."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from xaikit import Explanation, Sink, hookimpl

from .heatmap import HeatmapSink, base_image, blend, colourise, scaled_magnitude
from .pillow import save_image


def tile_size(size: Tuple[int, int], longest: int) -> Tuple[int, int]:
    """``size`` (width, height) scaled so its longer side is about ``longest``: enlarged by
    a whole factor (so every pixel becomes an equal square), or reduced."""
    width, height = size
    if max(size) <= longest:
        factor = longest // max(size)
        return width * factor, height * factor
    scale = longest / max(size)
    return max(1, round(width * scale)), max(1, round(height * scale))


def caption(explanation: Explanation) -> Tuple[str, str, str]:
    """What the panel says below the image, the map and the overlay: ``class 3 (three)``,
    ``stability 0.972 (48 samples)`` (for a map that has one) and the score.

    The score is the one the explainer reports it differentiated (metadata
    ``differentiated`` and ``differentiated_score``: ``logit 7.310, output 0.998``), else
    the model's output (``score 0.998``).
    """
    name = f" ({explanation.class_name})" if explanation.class_name else ""
    reported = explanation.reported
    output = explanation.score
    if "differentiated" in reported and "differentiated_score" in reported:
        score = f"{reported['differentiated']} {reported['differentiated_score']:.3f}"
        if reported["differentiated"] != "output" and output is not None:
            score += f", output {output:.3f}"
    else:
        score = "" if output is None else f"score {output:.3f}"
    return f"class {explanation.class_index}{name}", explanation.stability_note(), score


def map_title(explanation: Explanation) -> str:
    """The map's title: the method the explainer reports (metadata ``method``, such as
    ``smoothgrad_sq``), else the explainer's name."""
    return f"{explanation.reported.get('method', explanation.explainer)} map"


def panel(explanation: Explanation, params: PanelSink.Params) -> Image.Image:
    """The three tiles on white, titled, with the :func:`caption` below them."""
    image = base_image(explanation)
    size = tile_size(image.size, params.tile_size)
    enlarging = size[0] >= image.size[0]
    image = image.resize(size, Image.NEAREST if enlarging else Image.LANCZOS)
    scaled = scaled_magnitude(explanation.attribution, params.percentile)
    tiles = [
        ("image", image),
        (map_title(explanation), colourise(scaled, params.colormap).resize(
            size, Image.NEAREST)),
        ("overlay", blend(image, scaled, params.colormap, params.alpha)),
    ]
    margin = max(8, params.tile_size // 16)
    font = ImageFont.load_default(size=max(12, params.tile_size // 12))
    line = font.getbbox("Ag")[3] + margin // 2
    width, height = size
    canvas = Image.new("RGB", (3 * width + 4 * margin, height + 2 * line + 3 * margin), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (title, tile) in enumerate(tiles):
        left = margin + i * (width + margin)
        canvas.paste(tile, (left, margin + line))
        draw.text((left + width / 2, margin), fit(draw, title, font, width), fill="black",
                  font=font, anchor="ma")
    left, middle, right = caption(explanation)
    top = 2 * margin + line + height
    draw.text((canvas.width - margin, top), right, fill="black", font=font, anchor="ra")
    end = canvas.width - 2 * margin - draw.textlength(right, font=font)  # room to the left
    if middle:  # centred under the map, shortened to "stability 0.972" where it must be
        centre = 2 * margin + 1.5 * width
        room = 2 * min(width / 2 + margin / 2, end - centre)
        short = middle.split(" (")[0]
        middle = fit(draw, middle if draw.textlength(middle, font=font) <= room else short,
                     font, room)
        draw.text((centre, top), middle, fill="black", font=font, anchor="ma")
        end = centre - draw.textlength(middle, font=font) / 2 - margin
    draw.text((margin, top), fit(draw, left, font, end - margin), fill="black", font=font)
    return canvas


def fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: float) -> str:
    """``text``, cut short with "..." if it is wider than ``width``."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "..."


class PanelSink(Sink):
    name = "panel"
    description = ("image | map | overlay side by side, with the class, the map's stability "
                   "and the score explained")
    extensions = HeatmapSink.extensions

    class Params(HeatmapSink.Params):
        tile_size: int = Field(
            256,
            ge=64,
            le=4096,
            description="Longer side of each picture in pixels; smaller images are enlarged "
            "by a whole factor without smoothing, so the network's pixels stay visible.",
        )

    def write(self, explanation: Explanation, path: Path, params: PanelSink.Params) -> None:
        save_image(panel(explanation, params), path)


@hookimpl
def register_sinks(register):
    register(PanelSink())
