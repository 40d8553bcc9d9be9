"""The paper's figures, quoted: the numbers the notebooks print beside ours.

Every number here is *quoted* from the paper's slides (Wu et al., "Dynamic Inference: A New
Approach Toward Efficient Video Action Recognition", CVPR-W 2020), none is measured by this
project. They are grouped as the slides group them:

* :data:`DATASETS`: "Scene-related / Temporal-related Datasets" (Experiments, datasets);
* :data:`DEPTH_AXIS_EXAMPLE`: the worked example of "Approach (a), depth-axis dynamic scheme";
* :data:`FLOPS_CUTS`: "Experiment: Ablation Study" (MSDNet-38 on Kinetics-400, without / with
  online temporal shift) and the "Experiment" slide on UCF-101 and HMDB-51;
* :data:`KINETICS_400`: "Comparison with State-of-the-arts", the Kinetics-400 table;
* :data:`UCF_HMDB`: "Comparison with State-of-the-arts", the UCF-101 / HMDB-51 table;
* :data:`SOMETHING_SOMETHING`: "Comparison with State-of-the-arts", the Something-Something
  v1 / v2 table;
* :data:`COSTS`: the cost and parameter columns of the models the project rebuilds (chapter 1
  compares its FLOPs counter with them), taken from the Kinetics-400 and Something-Something
  tables above.

Where the slides' text is garbled, the reading is stated at the row. ``None`` is a cell the
slides leave empty ("-"). :func:`figures` lists every number, for checks that a text quotes
only the paper's figures or the figures its outputs print.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = [
    "COSTS",
    "DATASETS",
    "DEPTH_AXIS_EXAMPLE",
    "FLOPS_CUTS",
    "KINETICS_400",
    "SOMETHING_SOMETHING",
    "UCF_HMDB",
    "CostRow",
    "Dataset",
    "FlopsCut",
    "KineticsRow",
    "SomethingRow",
    "UcfHmdbRow",
    "figures",
]


# ---------------------------------------------------------------------------------------------
# Datasets (slides "Scene-related Datasets", "Temporal-related Datasets")


@dataclass(frozen=True)
class Dataset:
    """One evaluation dataset as the slides describe it."""

    name: str
    kind: str  # "scene" (action visible in one frame) or "temporal" (needs motion / time order)
    videos: int  # number of videos
    classes: int  # number of action classes


DATASETS: tuple[Dataset, ...] = (
    Dataset("Kinetics-400", "scene", 306_245, 400),
    Dataset("UCF-101", "scene", 13_320, 101),
    Dataset("HMDB-51", "scene", 6_766, 51),
    Dataset("Something-Something v1", "temporal", 108_499, 174),
    Dataset("Something-Something v2", "temporal", 220_847, 174),
)


# ---------------------------------------------------------------------------------------------
# Approach (a): the depth-axis example ("Top1 is Writing: 0.1 < threshold_1, 0.2 < threshold_2,
# 0.5 > threshold_3: make early prediction!")

DEPTH_AXIS_EXAMPLE: tuple[float, ...] = (0.1, 0.2, 0.5)  # top-1 confidence at checkpoints 1-3;
# the first two stay below their thresholds, the third passes and the video stops there


# ---------------------------------------------------------------------------------------------
# FLOPs/video cuts stated on the experiment slides


@dataclass(frozen=True)
class FlopsCut:
    """A "FLOPs/Video down ~x%" figure: the dynamic schemes against full inference."""

    dataset: str
    setting: str  # what the slide says was run
    cut_pct: float  # approximate reduction of the average FLOPs per video (%)


FLOPS_CUTS: tuple[FlopsCut, ...] = (
    # "Experiment: Ablation Study", MSDNet-38 on Kinetics-400; "Full Inference" is the prediction
    # head of the last checkpoint only
    FlopsCut("Kinetics-400", "MSDNet-38, without online temporal shift", 53),
    FlopsCut("Kinetics-400", "MSDNet-38, with online temporal shift", 50),
    # "Experiment", (a) UCF-101 and (b) HMDB-51; the slide does not name the backbone (the
    # MSDNet-38 rows of UCF_HMDB give these cuts against its 52 G full inference)
    FlopsCut("UCF-101", "dynamic inference", 70),
    FlopsCut("HMDB-51", "dynamic inference", 44),
)


# ---------------------------------------------------------------------------------------------
# Comparison with the state of the art: Kinetics-400


@dataclass(frozen=True)
class KineticsRow:
    """One row of the Kinetics-400 comparison table."""

    method: str  # framework as the table names it ("Proposed": the paper's dynamic inference)
    backbone: str
    frames: int | None  # frames per clip; None where the table says "All"
    channels: int  # input channels per frame (StNet stacks 5 frames: 15)
    size: int  # input height = width (pixels)
    clips: int  # clips per video
    top1: float  # Prec@1 on Kinetics-400 (%)
    params_m: float  # parameters (millions)
    gflops: float  # GFLOPs per video, all clips (for "Proposed" except "(Full)": the average)


KINETICS_400: tuple[KineticsRow, ...] = (
    KineticsRow("I3D", "3D BN-Inception", None, 3, 256, 1, 70.24, 12.7, 544.44),
    KineticsRow("S3D", "3D BN-Inception", None, 3, 224, 1, 72.20, 8.8, 518.6),
    KineticsRow("ARTNet with TSN", "3D ResNet-18", 16, 3, 112, 250, 69.2, 35.2, 5925),
    KineticsRow("MF-Net", "-", 16, 3, 224, 1, 65.00, 8.0, 11.1),
    KineticsRow("MF-Net", "-", 16, 3, 224, 50, 72.80, 8.0, 555),
    KineticsRow("ECO", "BN-Inception+3D ResNet-18", 16, 3, 224, 1, 69.00, 47.5, 64),
    KineticsRow("R(2+1)D RGB", "ResNet-34", 32, 3, 112, 10, 72.00, 63.8, 1524),
    KineticsRow("Nonlocal-I3D", "ResNet-50", 128, 3, 224, 1, 67.30, 35.33, 145.7),
    KineticsRow("Nonlocal-I3D", "ResNet-50", 128, 3, 224, 30, 76.50, 35.33, 4371),
    # The framework cell of the next three rows is garbled in the slides (it reads
    # "Kinetics-400"); they are TSN's: the UCF-101 / HMDB-51 table gives TSN the same
    # backbones and costs.
    KineticsRow("TSN", "BN-Inception", 25, 3, 112, 10, 69.1, 10.7, 500),
    KineticsRow("TSN", "ResNet-50", 8, 3, 224, 1, 66.80, 24.3, 33),
    KineticsRow("TSN", "ResNet-50", 16, 3, 224, 1, 67.80, 24.3, 64),
    KineticsRow("TSM", "ResNet-50", 8, 3, 224, 1, 70.60, 24.3, 33),
    KineticsRow("TSM", "ResNet-50", 16, 3, 224, 1, 72.50, 24.3, 64),
    KineticsRow("StNet", "ResNet-50", 25, 15, 256, 1, 69.85, 33.16, 189.29),
    KineticsRow("StNet", "ResNet-101", 25, 15, 256, 1, 71.38, 52.15, 310.50),
    KineticsRow("Proposed", "MSDNet-38 (Full)", 16, 3, 224, 1, 71.17, 62.31, 52),
    KineticsRow("Proposed", "MSDNet-38", 16, 3, 224, 1, 71.20, 62.31, 26.5),
    KineticsRow("Proposed", "ResNet-50", 16, 3, 224, 1, 72.57, 29.12, 35),
    KineticsRow("Proposed", "ResNet-101", 16, 3, 224, 1, 74.70, 48.12, 66),
)


# ---------------------------------------------------------------------------------------------
# Comparison with the state of the art: UCF-101 and HMDB-51


@dataclass(frozen=True)
class UcfHmdbRow:
    """One row of the UCF-101 / HMDB-51 comparison table."""

    method: str  # "Proposed": the paper's dynamic inference
    backbone: str
    gflops: float  # GFLOPs per video (for "Proposed": the average on that row's dataset)
    ucf101: float | None  # top-1 on UCF-101 (%)
    hmdb51: float | None  # top-1 on HMDB-51 (%)


UCF_HMDB: tuple[UcfHmdbRow, ...] = (
    UcfHmdbRow("ARTNet with TSN", "3D ResNet-18", 5925, 94.3, 70.9),
    UcfHmdbRow("ECO", "BN-Inception+3D ResNet-18", 64, 92.8, 68.5),
    UcfHmdbRow("I3D RGB", "3D Inception-v1", 544, 95.1, 74.3),
    UcfHmdbRow("TSN RGB", "BN-Inception", 500, 91.1, None),
    UcfHmdbRow("TSN 8F", "ResNet-50", 33, 91.5, 63.2),
    UcfHmdbRow("TSN 16F", "ResNet-50", 64, 91.4, 63.6),
    UcfHmdbRow("TSM 8F", "ResNet-50", 33, 94.0, 70.3),
    UcfHmdbRow("TSM 16F", "ResNet-50", 64, 94.5, 70.7),
    UcfHmdbRow("StNet", "ResNet-50", 53, 93.5, None),
    # The backbone column of the proposed rows is shifted in the slides' text; each backbone
    # has one UCF-101 row and one HMDB-51 row, read here as MSDNet-38, ResNet-50, ResNet-101
    # (the MSDNet-38 pair gives the "~70%" and "~44%" cuts of FLOPS_CUTS against 52 G).
    UcfHmdbRow("Proposed", "MSDNet-38", 15.8, 94.2, None),
    UcfHmdbRow("Proposed", "MSDNet-38", 29.2, None, 70.1),
    UcfHmdbRow("Proposed", "ResNet-50", 18.5, 94.7, None),
    UcfHmdbRow("Proposed", "ResNet-50", 34.4, None, 72.34),
    UcfHmdbRow("Proposed", "ResNet-101", 34.6, 95.3, None),
    UcfHmdbRow("Proposed", "ResNet-101", 69.1, None, 73.48),
)


# ---------------------------------------------------------------------------------------------
# Comparison with the state of the art: Something-Something v1 and v2


@dataclass(frozen=True)
class SomethingRow:
    """One row of the Something-Something comparison table (empty merged cells filled in)."""

    method: str  # "Proposed": the paper's dynamic inference
    backbone: str
    pretrain: str  # dataset the backbone was pretrained on
    gflops_v1: float | None  # GFLOPs per video on v1 (for "Proposed": the average)
    gflops_v2: float | None  # GFLOPs per video on v2 (differs from v1 only for "Proposed")
    v1_top1: float  # v1 validation top-1 (%)
    v1_top5: float | None  # v1 validation top-5 (%)
    v2_top1: float | None  # v2 validation top-1 (%)
    v2_top5: float | None  # v2 validation top-5 (%)
    v2_test_top1: float | None  # v2 test top-1 (%)
    v2_test_top5: float | None  # v2 test top-5 (%)


SOMETHING_SOMETHING: tuple[SomethingRow, ...] = (
    SomethingRow("ECO 16F", "BN-Inception+3D ResNet-18", "Kinetics", 64, 64,
                 41.4, None, None, None, None, None),
    SomethingRow("ECO EN Lite", "BN-Inception+3D ResNet-18", "Kinetics", 267, 267,
                 46.4, None, None, None, None, None),
    SomethingRow("I3D", "3D ResNet-50", "Kinetics", 306, 306,
                 41.6, 72.2, None, None, None, None),
    SomethingRow("Non-local I3D+GCN", "3D ResNet-50", "Kinetics", 606, 606,
                 46.1, 76.8, None, None, None, None),
    SomethingRow("TSN 8F", "ResNet-50", "Kinetics", 33, 33,
                 19.7, 46.6, 27.8, 57.6, None, None),
    SomethingRow("TSN 16F", "ResNet-50", "Kinetics", 65, 65,
                 19.9, 47.3, 30.0, 60.5, None, None),
    SomethingRow("TRN Multiscale", "BN-Inception", "ImageNet", 33, 33,
                 34.4, None, 48.8, 77.6, 50.9, 79.3),
    SomethingRow("TRN Two-Stream", "BN-Inception", "ImageNet", None, None,
                 42.0, None, 55.5, 83.1, 56.2, 83.2),
    SomethingRow("TSM 8F", "ResNet-50", "Kinetics", 33, 33,
                 43.4, 73.2, 58.2, 84.8, None, None),
    SomethingRow("TSM 16F", "ResNet-50", "Kinetics", 65, 65,
                 44.8, 74.5, 58.7, 84.8, 59.9, 85.9),
    SomethingRow("Proposed", "ResNet-50", "ImageNet", 52.8, 48.0,
                 45.2, 75.2, 58.2, 85.2, None, None),
    SomethingRow("Proposed", "MSDNet-38", "ImageNet", 38.4, 35.4,
                 46.5, 75.6, 60.0, 86.2, 60.1, 86.6),
)


# ---------------------------------------------------------------------------------------------
# The cost rows of the models the project rebuilds (from the tables above)


@dataclass(frozen=True)
class CostRow:
    """Cost and size of one model at 224x224, as the comparison tables give them."""

    model: str
    frames: int  # frames per video (one clip)
    gflops: float | None  # GFLOPs per video, Kinetics-400 table; None: only a dynamic average
    gflops_sth: float | None  # the same in the Something-Something table (65 G for 16 frames)
    params_m: float  # parameters (millions), Kinetics-400 table


COSTS: tuple[CostRow, ...] = (
    CostRow("TSN ResNet-50", 8, 33, 33, 24.3),
    CostRow("TSN ResNet-50", 16, 64, 65, 24.3),
    CostRow("TSM ResNet-50", 8, 33, 33, 24.3),
    CostRow("TSM ResNet-50", 16, 64, 65, 24.3),
    CostRow("MSDNet-38 (full inference)", 16, 52, None, 62.31),
    # the dynamic ResNets: the tables give their average cost (35 G, 66 G), not the full one
    CostRow("dynamic ResNet-50", 16, None, None, 29.12),
    CostRow("dynamic ResNet-101", 16, None, None, 48.12),
)


def figures() -> list[int | float]:
    """Every number quoted in this module, table by table in row order (repeats kept).

    Strings, flags and empty cells (``None``) are left out; the dataset sizes, input shapes and
    the depth-axis example are included.
    """
    numbers: list[int | float] = list(DEPTH_AXIS_EXAMPLE)
    tables = (DATASETS, FLOPS_CUTS, KINETICS_400, UCF_HMDB, SOMETHING_SOMETHING, COSTS)
    for table in tables:
        for row in table:
            for f in fields(row):
                value = getattr(row, f.name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    numbers.append(value)
    return numbers
