"""Writes the malformed text files of this folder: `python tests/dataio/bad_files/generate.py`.

Each is what a real export, a careless edit or an attacker produces; tests/dataio/test_bad_files.py says what
each must give. Files that are binary by nature (zero bytes inside, UTF-16, workbooks) are built in the test.
A file in an unusual but valid form (BOM, CRLF, CR, quoted line breaks) carries one bad row at its end, so
the message naming that row proves the rows before it were read where they are.
"""

from pathlib import Path

ACCOUNTS = "reference,name,image_rating"
ORDERS = "account_reference,date,revenue,reference"

FILES: dict[str, bytes] = {
    "empty.csv": b"",
    "blank_lines_only.csv": b"\n\n\n",
    "header_only.csv": f"{ACCOUNTS}\n".encode(),
    "utf8_bom.csv": f"\ufeff{ACCOUNTS}\nBF-1,Bom Co,3\nBF-2,Bad Rating Co,9\n".encode(),
    "crlf_line_ends.csv": f"{ACCOUNTS}\r\nBF-1,Crlf Co,3\r\nBF-2,Bad Rating Co,9\r\n".encode(),
    "cr_line_ends.csv": f"{ACCOUNTS}\rBF-1,Old Mac Co,3\rBF-2,Bad Rating Co,9\r".encode(),
    "quoted_newline.csv": f'{ACCOUNTS}\nBF-1,"Two\nLines Co",3\nBF-2,Bad Rating Co,9\n'.encode(),
    "trailing_field_with_value.csv": f"{ACCOUNTS}\nBF-1,Shift Co,3,\nBF-2,Shift Co,3,Benelux\n".encode(),
    "two_extra_fields.csv": f"{ACCOUNTS}\nBF-1,Extra Co,3,,\n".encode(),
    "duplicate_header.csv": b"reference,name,name\nBF-1,One,Two\n",
    "unclosed_quote.csv": f'{ACCOUNTS}\nBF-1,"Open quote Co,3\n'.encode(),
    "mixed_utf8_cp1252.csv": f"{ACCOUNTS}\nBF-1,Café,3\n".encode() + "BF-2,Zoë,3\n".encode("cp1252"),
    "huge_number.csv": f"{ORDERS}\nC-1,2025-01-01,5,BF-1\nC-1,2025-01-02,1e309,BF-2\n".encode(),
    "nan.csv": f"{ORDERS}\nC-1,2025-01-01,5,BF-1\nC-1,2025-01-02,NaN,BF-2\n".encode(),
    "negative_year.csv": f"{ORDERS}\nC-1,2025-01-01,5,BF-1\nC-1,-2026-01-01,5,BF-2\n".encode(),
    "thousands_of_errors.csv": (
        f"{ACCOUNTS}\n" + "".join(f"BF-{i},Name {i},9\n" for i in range(3000))
    ).encode(),
}

if __name__ == "__main__":
    here = Path(__file__).parent
    for name, content in FILES.items():
        (here / name).write_bytes(content)
