"""What every kind of import shares: its fields, the problems found, and the vectorised checks.

An importer sees the file chunk by chunk as DataFrames of text whose columns are already the canonical
field names (`_row` is the row number in the file). `check()` validates a chunk with pandas, records each
problem with row, column and a clear message, and keeps the good rows; `finish()` runs the checks that
need the whole file (duplicates); `plan()` says what writing would do; `write()` does it.
"""

import datetime
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from accounts.models import Role, User
from accounts.validators import BIDI_CONTROLS, BIDI_MESSAGE
from dataio.imports import parsing

MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Field:
    name: str
    required: bool = False
    max_length: int | None = None
    help: str = ""


@dataclass
class Problems:
    """Every problem found, the first MAX_PROBLEMS kept in full, sorted by row when read."""

    items: list[dict] = field(default_factory=list)
    count: int = 0
    rows: set = field(default_factory=set)

    def add(self, row: int, column: str, message: str, value: str = "") -> None:
        self.count += 1
        self.rows.add(int(row))
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(
                {"row": int(row), "column": column, "value": str(value)[:100], "message": message}
            )

    def add_mask(self, frame: pd.DataFrame, mask, column: str, message: str, values=None) -> None:
        """One problem per row where `mask` holds; `{value}` in the message becomes the row's value."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = frame["_row"].to_numpy()[mask]
        shown = (values if values is not None else frame[column]).to_numpy()[mask]
        self.count += len(rows)
        self.rows.update(int(r) for r in rows)
        room = MAX_PROBLEMS - len(self.items)
        for row, value in zip(rows[: max(room, 0)], shown[: max(room, 0)], strict=True):
            text = str(value)[:100]
            self.items.append(
                {"row": int(row), "column": column, "value": text, "message": message.format(value=text)}
            )

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda p: (p["row"], p["column"]))

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass
class Plan:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class Importer:
    kind: str = ""
    fields: tuple[Field, ...] = ()

    def __init__(
        self, *, user: User | None, today: datetime.date, delimiter: str = ",", mapped: set[str] | None = None
    ):
        self.user = user
        self.mapped = mapped  # the fields the file has a column for (None: all)
        self.today = today
        self.delimiter = delimiter
        self.problems = Problems()
        self.rows_checked = 0
        self._decimal_comma: dict[str, bool | None] = {}

    # --- the steps, in order ---
    def setup(self) -> None:
        """Load what the checks look up (accounts by reference, users); create staging tables."""

    def check(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Checks across the whole file, once every chunk was seen."""

    def plan(self) -> Plan:
        raise NotImplementedError

    def write(self) -> Plan:
        raise NotImplementedError

    def teardown(self) -> None:
        """Drop staging tables (also after an error)."""

    # --- shared checks ---
    @classmethod
    def required(cls) -> list[str]:
        return [f.name for f in cls.fields if f.required]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in cls.fields]

    def text(self, frame: pd.DataFrame, name: str) -> pd.Series:
        values = parsing.strip_text(frame[name])
        spec = next(f for f in self.fields if f.name == name)
        if spec.required:
            self.problems.add_mask(frame, values == "", name, f"The {name.replace('_', ' ')} is missing.")
        if spec.max_length:
            lengths = np.fromiter(map(len, values.to_numpy()), dtype=np.int64, count=len(values))
            self.problems.add_mask(
                frame, lengths > spec.max_length, name, f"Longer than {spec.max_length} characters.", values
            )
            # A field with a length limit is a name, reference or title: the models refuse bidirectional
            # controls there (accounts.validators), and an import must refuse what a form would.
            self.problems.add_mask(
                frame,
                values.str.contains(BIDI_CONTROLS.pattern, regex=True).to_numpy(dtype=bool),
                name,
                BIDI_MESSAGE,
                values,
            )
        return values

    def money(
        self,
        frame: pd.DataFrame,
        name: str,
        *,
        default: str | None = None,
        optional: bool = False,
        limit: float = 1e12,
    ) -> tuple[pd.Series, np.ndarray]:
        """(decimal text, ok mask): thousands separators and decimal commas understood, negative amounts
        and amounts too large for the database refused. Text, not floats: the database rounds to cents.
        With `optional`, an empty cell is None (not known) rather than a default or a problem. `limit` is the
        first amount the database column cannot hold."""
        if optional:
            empty = (parsing.strip_text(frame[name]) == "").to_numpy()
            values, ok = self.money(frame, name, default="0", limit=limit)
            return values.astype(object).where(~empty, None), ok
        fast = parsing.fast_decimal(frame[name], default)
        if fast is not None:
            text, numeric = fast
            raw = frame[name]
            values = pd.Series(text, index=frame.index, dtype=object)
            bad = np.zeros(len(text), dtype=bool)
        else:
            raw = parsing.strip_text(frame[name])
            style = self._decimal_comma.get(name)
            if style is None:
                style = parsing.decimal_comma_style(raw, self.delimiter)
                self._decimal_comma[name] = style
            values, bad = parsing.parse_decimal(raw, decimal_comma=bool(style))
            separator = "a comma" if style else "a point"
            self.problems.add_mask(
                frame,
                bad,
                name,
                f"{{value}} is not a number (this file writes decimals with {separator}).",
                raw,
            )
            missing = (raw == "").to_numpy()
            if default is None:
                self.problems.add_mask(frame, missing, name, f"The {name.replace('_', ' ')} is missing.")
            else:
                values = values.where(~missing, default)
            bad = bad.to_numpy() | (values == "").to_numpy()
            numeric = pd.to_numeric(values.where(~bad, None), errors="coerce").to_numpy(dtype=float)
        negative = numeric < 0
        self.problems.add_mask(frame, negative, name, "{value} is negative: amounts must be 0 or more.", raw)
        huge = np.abs(numeric) >= limit
        self.problems.add_mask(frame, huge, name, "{value} is too large.", raw)
        return values, ~(bad | negative | huge)

    def date(self, frame: pd.DataFrame, name: str, *, required: bool = True) -> tuple[pd.Series, np.ndarray]:
        """(ISO date text, ok mask): ISO 8601 only, not in the future."""
        raw = parsing.strip_text(frame[name])
        parsed, bad = parsing.parse_date(raw)
        self.problems.add_mask(frame, bad, name, "{value} is not a date: write it as YYYY-MM-DD.", raw)
        if required:
            self.problems.add_mask(frame, raw == "", name, f"The {name.replace('_', ' ')} is missing.")
        future = (parsed > pd.Timestamp(self.today)).fillna(False).to_numpy()
        self.problems.add_mask(frame, future, name, "{value} is in the future.", raw)
        ok = parsed.notna().to_numpy() & ~future
        # Cells that are exactly YYYY-MM-DD are written as they are (formatting a million dates is slow).
        plain = np.fromiter(map(len, raw.to_numpy()), dtype=np.int64, count=len(raw)) == 10
        text = raw.where(plain, parsed.dt.strftime("%Y-%m-%d")) if not plain.all() else raw
        return text.fillna(""), ok

    def rating(self, frame: pd.DataFrame, name: str, low: int, high: int) -> tuple[pd.Series, pd.Series]:
        raw = parsing.strip_text(frame[name])
        numbers, bad = parsing.parse_int(raw)
        out_of_range = ~bad & numbers.notna() & ((numbers < low) | (numbers > high)).fillna(False)
        self.problems.add_mask(
            frame, bad | out_of_range, name, f"{{value}} is not a whole number from {low} to {high}.", raw
        )
        return numbers, ~(bad | out_of_range).to_numpy()

    def choice(self, frame: pd.DataFrame, name: str, choices) -> tuple[pd.Series, pd.Series]:
        """A value of a TextChoices/IntegerChoices given as its value or its label, any case."""
        raw = parsing.strip_text(frame[name])
        lookup = {}
        for value, label in choices.choices:
            for key in (str(value), str(label), str(label).split(" /")[0], str(value).replace("_", " ")):
                lookup[key.strip().lower()] = value
        mapped = raw.str.lower().map(lookup)
        bad = (raw != "") & mapped.isna()
        allowed = ", ".join(str(v) for v in choices.values)
        self.problems.add_mask(frame, bad, name, f"{{value}} is not one of: {allowed}.", raw)
        return mapped, ~bad.to_numpy()

    def users_by_login(self) -> dict[str, int | None]:
        """Lower-case username and email -> user id (None where an email is shared, so ambiguous)."""
        out: dict[str, int | None] = {}
        users = User.objects.filter(is_active=True).exclude(role=Role.INTEGRATION)
        for pk, username, email in users.values_list("id", "username", "email"):
            out[username.lower()] = pk
            if email:
                key = email.lower()
                out[key] = None if key in out and out[key] != pk else pk
        return out

    def user_column(self, frame: pd.DataFrame, name: str, users: dict) -> tuple[pd.Series, pd.Series]:
        raw = parsing.strip_text(frame[name])
        key = raw.str.lower()
        ids = key.map(lambda k: users.get(k, -1) if k else np.nan)
        unknown = (raw != "") & (ids == -1)
        ambiguous = (raw != "") & ids.isna() & key.isin(list(users))
        self.problems.add_mask(frame, unknown, name, "No active user with username or email {value}.", raw)
        self.problems.add_mask(frame, ambiguous, name, "More than one user has the email {value}.", raw)
        ids = ids.where(~(unknown | ambiguous), np.nan).astype("Int64")
        return ids, ~(unknown | ambiguous).to_numpy()


def chunks(items: list, size: int = 2000):
    for start in range(0, len(items), size):
        yield items[start : start + size]
