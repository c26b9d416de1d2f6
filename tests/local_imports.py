"""Function-local imports of the project's own packages, outside migrations and tests.

Run from the project root: `.venv/bin/python tests/local_imports.py`. CONTRIBUTING allows them only where
models cannot load yet (AppConfig.ready(), post_migrate receivers), each with its reason.
"""

import ast
import pathlib

PACKAGES = {
    "kam",
    "accounts",
    "integrations",
    "profiles",
    "plans",
    "scoring",
    "dataio",
    "workspace",
    "audit",
    "demo",
}

count = 0
for path in sorted(pathlib.Path(".").rglob("*.py")):
    if path.parts[0] not in PACKAGES or "migrations" in path.parts:
        continue
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            else:
                continue
            if module.split(".")[0] in PACKAGES:
                count += 1
                print(f"{path}:{node.lineno} {module}")
print("function-local project imports:", count)
