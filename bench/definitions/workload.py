"""Workload definitions (``workloads/*.toml``): dataset, model, training, baseline, grids.

The dataset and the model are bench's (``[dataset] name``, ``[model] family``) or the workload's
own Python code (``[dataset] loader``, ``[model] builder``: bench.definitions.user_code), whose
hyperparameters the file declares (``[hyperparameters]``); the model and the grids are read by
bench.definitions.search_space."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.definitions.hyperparameters import DATASETS
from bench.definitions.locations import find_definition
from bench.definitions.overrides import (
    GRID_SETTINGS,
    SET,
    Setting,
    check_names,
    effective,
    grid_settings,
)
from bench.definitions.search_space import read_grid, read_model
from bench.definitions.thresholds import Thresholds, read_thresholds
from bench.definitions.tomlfile import Invalid, Table, load_toml, non_negative, one_of, positive
from bench.definitions.user_code import (
    LOADER,
    check_reference,
    code_digest,
    is_reference,
    ship_paths,
)
from bench.errors import UserError

DEFAULT_WORKLOAD = "digits-mlp"
# A workload's name is part of run directory and baseline file names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class DatasetSettings:
    name: str  # bench's dataset, or the workload's loader as "module:function"
    path: str | None = None  # mnist only: a keras .npz or a folder of the four IDX files
    validation_size: int | None = None  # None: the dataset's own default
    train_limit: int | None = None  # keep only the first N training examples
    # A loader's keyword arguments besides seed ([dataset.options]); omitted from the hash when
    # empty, so bench's own datasets keep their hashes.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialSpec:
    """One configuration of the grid: what a Spark task trains."""

    trial_id: str  # stable and readable, e.g. "learning_rate=0.1,neurons=64"
    index: int  # position in dispatch order
    params: dict[str, Any]  # every hyperparameter of the model, baseline values filled in
    is_baseline: bool = False


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int
    batch_size: int
    seed: int
    timeout_s: float | None = None  # a trial training longer is stopped: status "timeout"
    # False walks the training data in file order every epoch (the 2016 tutorial does).
    shuffle: bool = True
    # This many failed or timed-out trials one after another stop the run: something is broken
    # that no configuration will fix (diverged trials do not count: they are a result).
    max_failures_in_a_row: int = 5


@dataclass(frozen=True)
class DeploymentSettings:
    # Rows the deployment step scores unless --deploy-rows says otherwise (None: bench's default,
    # 1,000,000). A convnet row costs a hundred digits-MLP rows: a workload sizes its own.
    rows: int | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    path: Path
    description: str
    dataset: DatasetSettings
    model: str  # a key of MODEL_HYPERPARAMETERS, or the workload's builder "module:function"
    training: TrainingSettings
    baseline: dict[str, Any]  # a value for every hyperparameter of the model
    grids: dict[str, dict[str, list[Any]]]  # grid name -> axis -> values, in file order
    default_grid: str
    # The regression gate's thresholds: how the run is judged, not what it measures (not hashed).
    thresholds: Thresholds = Thresholds()
    # How the run measures the deployment step, not what the trials measure (not hashed).
    deployment: DeploymentSettings = DeploymentSettings()
    # The grid it was read for, and the settings that changed its [dataset] and [training]
    # (``dataset`` and ``training`` above have them): that grid's, then --set's.
    chosen_grid: str = ""
    settings: tuple[Setting, ...] = ()
    grid_settings: dict[str, tuple[Setting, ...]] = field(default_factory=dict)  # as in the file
    # The workload's own modules (a file or a package folder each), shipped to the executors.
    code: tuple[Path, ...] = ()
    # ``model`` is a whole trial function ([model] trial), not a builder bench trains: no
    # weights come back, so there is no deployment step.
    trial_function: bool = False

    def grid(self, name: str | None) -> dict[str, list[Any]]:
        name = name or self.default_grid
        if name not in self.grids:
            raise UserError(
                f"workload '{self.name}' ({self.path}) has no grid '{name}'",
                where="--grid",
                fix=f"use one of: {', '.join(self.grids)}",
            )
        return self.grids[name]

    def trials(self, grid_name: str | None = None) -> list[TrialSpec]:
        """The grid's configurations plus the baseline, baseline first (docs/method.md, "Terms":
        the baseline is always trained in the same run as the grid, on the same footing)."""
        axes = self.grid(grid_name)
        configs = [
            {**self.baseline, **dict(zip(axes, values, strict=True))}
            for values in itertools.product(*axes.values())
        ]
        if self.baseline not in configs:
            configs.insert(0, dict(self.baseline))
        else:
            configs.insert(0, configs.pop(configs.index(self.baseline)))
        id_keys = list(axes) or list(self.baseline)
        return [
            TrialSpec(
                trial_id=",".join(f"{k}={config[k]!r}" for k in id_keys),
                index=i,
                params=config,
                is_baseline=(i == 0),
            )
            for i, config in enumerate(configs)
        ]

    def definition_hash(self, grid_name: str | None = None) -> str:
        """Identifies what was measured: two runs compare only when these hashes agree. The
        dataset and training settings are the effective ones, changed by the grid's settings and
        --set (bench.definitions.overrides)."""
        name = grid_name or self.default_grid
        if self.grid_settings.get(name, ()) != self.grid_settings.get(self.chosen_grid, ()):
            raise ValueError(f"workload read for grid '{self.chosen_grid}' hashed for grid "
                             f"'{name}', whose settings differ: read it with grid={name!r}")
        dataset = asdict(self.dataset)
        if not dataset["options"]:
            del dataset["options"]
        definition = {
            "dataset": dataset,
            "model": self.model,
            # what decides the results; settings left at their defaults keep older hashes valid
            "training": {k: v for k, v in asdict(self.training).items()
                         if k in ("epochs", "batch_size", "seed")
                         or (v is not None and k not in ("max_failures_in_a_row", "shuffle"))
                         or (k == "shuffle" and v is False)},
            "baseline": self.baseline,
            "grid": self.grid(grid_name),
        }
        if self.code:  # the workload's own code is part of what it measures
            definition["code"] = code_digest(self.code)
        blob = json.dumps(definition, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def find_workload(name_or_path: str | None) -> Path:
    """A path as given, or a name looked up in ./workloads and then the project's workloads/."""
    return find_definition(name_or_path or DEFAULT_WORKLOAD, folder="workloads",
                           what="workload", option="--workload")


# The keys of the tables settings can change: what those tables of the file accept.
SETTABLE: dict[str, list[str]] = {
    "dataset": [f.name for f in fields(DatasetSettings) if f.name != "options"],
    "training": [f.name for f in fields(TrainingSettings)],
    "deployment": [f.name for f in fields(DeploymentSettings)],
}


def load_workload(name_or_path: str | None = None, grid: str | None = None,
                  settings: Sequence[Setting] = ()) -> Workload:
    """The workload as a run of ``grid`` (default: the file's default_grid) measures it: its
    [dataset] and [training] changed by the grid's settings, then by ``settings`` (``--set``).

    The file must be valid on its own; every grid's settings are checked, not only the chosen
    grid's. Settings are applied to the file's data before it is read, so a bad value gets the
    file's message, naming where the setting was given."""
    path = find_workload(name_or_path)
    for setting in settings:
        check_names(setting, SETTABLE)
    data = load_toml(path)
    as_written = _read(data, path)
    chosen = grid or as_written.default_grid
    if grid is not None:
        as_written.grid(grid)  # an unknown grid: a UserError naming --grid
    for name, its in as_written.grid_settings.items():
        if name != chosen and its:
            _read(_changed_data(data, its), path, its)  # raises if one is invalid
    applied = effective([*as_written.grid_settings.get(chosen, ()), *settings])
    workload = _read(_changed_data(data, applied), path, applied) if applied else as_written
    return replace(workload, chosen_grid=chosen, settings=applied)


def _changed_data(data: dict[str, Any], settings: Sequence[Setting]) -> dict[str, Any]:
    """The file's data with ``settings`` in its tables (copies: ``data`` stays as read)."""
    changed = dict(data)
    for s in settings:
        changed[s.table] = {**changed.get(s.table, {}), s.key: s.value}
    return changed


class _ChangedTable(Table):
    """A table some of whose values come from settings: an error about one of them names
    where it was given (``--set training.epochs=abc``), not the file."""

    def __init__(self, table: Table, settings: Sequence[Setting]) -> None:
        super().__init__(table.data, table.file, table.path)
        self.settings = {s.key: s for s in settings if s.table == table.path}

    def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get(key, *args, **kwargs)
        except UserError as e:
            setting = self.settings.get(key)
            if setting is None or e.where != self.where:
                raise
            fix = e.fix
            if setting.from_command_line and fix and fix.startswith(f"write {key} = "):
                fix = f"write {SET} {setting.name}={fix.removeprefix(f'write {key} = ')}"
            raise UserError(e.what, where=setting.where, fix=fix) from None


def _read(data: dict[str, Any], path: Path, settings: Sequence[Setting] = ()) -> Workload:
    """The workload in ``data``, read from ``path``; ``settings``: those already in ``data``."""
    top = Table(data, str(path))
    name = top.get("name", str, default=path.stem, check=_plain_name)
    description = top.get("description", str, default="")

    ds = _ChangedTable(top.table("dataset"), settings)
    dataset = DatasetSettings(
        name=_dataset_name(ds, path),
        path=ds.get("path", str, default=None),
        validation_size=ds.get("validation_size", int, default=None, check=positive),
        train_limit=ds.get("train_limit", int, default=None, check=positive),
        options=ds.get("options", dict, default={}),
    )
    if dataset.options and "loader" not in ds.data:
        raise UserError("[dataset.options] are a loader's arguments, and this dataset is "
                        f"bench's '{dataset.name}'", where=ds.where,
                        fix="remove [dataset.options], or name your own loader")
    if "seed" in dataset.options:
        raise UserError("[dataset.options] gives 'seed', which bench passes itself: the "
                        "workload's [training] seed", where=f"{ds.where}.options",
                        fix="remove it, and set [training] seed")
    if "loader" in ds.data:
        for key in ("path", "validation_size"):
            if getattr(dataset, key) is not None:
                raise UserError(f"'{key}' is a setting of bench's datasets, and this one is "
                                "your own loader's", where=ds.where,
                                fix=f"pass it to the loader in [dataset.options] ({key} = ...)"
                                    " and split the data there")
        check_reference(dataset.name, path.parent, LOADER, f"{ds.where} loader",
                        dataset.options)
    ds.finish()

    model, hyper, trial_function = read_model(top, path)

    tr = _ChangedTable(top.table("training"), settings)
    own_trial: dict[str, Any] = {"default": 1} if trial_function else {}
    training = TrainingSettings(
        # a trial function trains as it sees fit: these are bench's trainings' (1: unused)
        epochs=tr.get("epochs", int, check=positive, **own_trial),
        batch_size=tr.get("batch_size", int, check=positive, **own_trial),
        seed=tr.get("seed", int, check=non_negative),
        timeout_s=tr.get("timeout_s", float, default=None, check=positive),
        max_failures_in_a_row=tr.get("max_failures_in_a_row", int, default=5, check=positive),
        shuffle=tr.get("shuffle", bool, default=True),
    )
    tr.finish()

    bl = top.table("baseline")
    baseline = {key: bl.get(key, hp.kind, check=hp.problem) for key, hp in hyper.items()}
    bl.finish(known=list(hyper))

    grids_table = top.table("grids")
    grids: dict[str, dict[str, list[Any]]] = {}
    settings_of: dict[str, tuple[Setting, ...]] = {}
    for grid_name in list(grids_table.data):
        grid_table = grids_table.table(grid_name)
        settings_of[grid_name] = grid_settings(
            grid_table.get(GRID_SETTINGS, dict, default={}), str(path), grid_name, SETTABLE)
        grids[grid_name] = read_grid(grid_table, hyper, declared=is_reference(model))
    if not grids:
        raise UserError(
            "no grids defined", where=str(path), fix="add a table like [grids.small] with lists"
        )
    default_grid = top.get(
        "default_grid", str, default=next(iter(grids)), check=one_of(grids, "grid")
    )
    thresholds = read_thresholds(top.table("check", default={}))
    dp = _ChangedTable(top.table("deployment", default={}), settings)
    deployment = DeploymentSettings(rows=dp.get("rows", int, default=None, check=non_negative))
    dp.finish()
    top.finish()
    own = [r for r in (dataset.name, model) if is_reference(r)]
    return Workload(
        name=name, path=path, description=description, dataset=dataset, model=model,
        training=training, baseline=baseline, grids=grids, default_grid=default_grid,
        thresholds=thresholds, deployment=deployment, chosen_grid=default_grid,
        grid_settings=settings_of, code=ship_paths(own, path.parent),
        trial_function=trial_function,
    )


def _dataset_name(ds: Table, path: Path) -> str:
    """bench's dataset ``name``, or the workload's ``loader`` ("module:function")."""
    if "loader" in ds.data:
        if "name" in ds.data:
            raise UserError("gives both 'name' (bench's dataset) and 'loader' (your own)",
                            where=ds.where, fix="keep one of them")
        ds.get("name", str, default=None)  # read: neither is an unknown key
        return ds.get("loader", str)
    ds.get("loader", str, default=None)
    if "name" not in ds.data:
        raise UserError("names no dataset", where=ds.where,
                        fix=f'write name = "digits" (bench\'s: {", ".join(DATASETS)}), or '
                            'loader = "my_module:load_data" for your own')
    return ds.get("name", str, check=one_of(DATASETS, "dataset"))


def _plain_name(value: str) -> Invalid | None:
    if _NAME.match(value):
        return None
    return Invalid(f"must be a plain name (it names run folders and references), got {value!r}",
                   "use letters, digits, '.', '_' and '-', e.g. name = \"digits-mlp\"")
