"""Validators for text people see in lists and headings: names, references, titles.

Unicode bidirectional controls (the embeddings and overrides U+202A-U+202E, the isolates U+2066-U+2069,
the marks U+200E/U+200F and the Arabic letter mark U+061C) are invisible and reorder the text around
them: "Acme<U+202E>gnp.exe" shows as "Acmeexe.png", a reference can read as another account's. Names do not
need them (a right-to-left name displays correctly without), so they are refused wherever such a field is
written: forms and the API through the model field, imports through BIDI_CONTROLS.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BIDI_MESSAGE = (
    "Remove the invisible text-direction characters (Unicode bidirectional controls such as U+202E): "
    "they make text display differently from what it is."
)


@deconstructible
class NoBidiControlsValidator:
    message = BIDI_MESSAGE
    code = "bidi_control"

    def __call__(self, value) -> None:
        if isinstance(value, str) and BIDI_CONTROLS.search(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, NoBidiControlsValidator)


no_bidi_controls = NoBidiControlsValidator()
