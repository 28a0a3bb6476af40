#!/usr/bin/env python3
"""Fails when code under src/ closes a raw file descriptor outside OwnedFd.

Descriptors are owned by nvgate::fd::OwnedFd (src/fd/owned_fd.h). Two places
may still call close() directly:
  - tests and test helpers (*_test.cc, src/testing/, the supervisor's test
    fakes and test workload);
  - code in a child between fork() and exec(), which must not run destructors
    of objects it shares with the parent. Such a block is marked by a comment
    containing "after fork:" on the line that opens it or on a line before it;
    the marker applies to the next brace-delimited block and everything in it.

Usage: check_raw_close.py SOURCE_ROOT     (the repository root)
       check_raw_close.py --self-test     (the checker against known cases)
"""
import pathlib
import re
import sys

MARKER = "after fork:"
CLOSE_CALL = re.compile(r"(?<![\w.>])(?:::)?close\s*\(")
OWNER = pathlib.PurePosixPath("src/fd/owned_fd.h")
TEST_HELPERS = {
    pathlib.PurePosixPath("src/supervisor/test_fakes.cc"),
    pathlib.PurePosixPath("src/supervisor/test_fakes.h"),
    pathlib.PurePosixPath("src/supervisor/test_workload.cc"),
}


def exempt(path: pathlib.PurePosixPath) -> bool:
    return (path == OWNER or path in TEST_HELPERS or path.name.endswith("_test.cc")
            or path.parts[:2] == ("src", "testing"))


def split_code_and_comments(text: str):
    """Yields (line number, code with strings and comments blanked, comments)."""
    in_block_comment = False
    for number, line in enumerate(text.splitlines(), start=1):
        code, comments = [], []
        i = 0
        while i < len(line):
            if in_block_comment:
                end = line.find("*/", i)
                stop = len(line) if end < 0 else end
                comments.append(line[i:stop])
                if end < 0:
                    i = len(line)
                else:
                    in_block_comment = False
                    i = end + 2
                continue
            if line.startswith("//", i):
                comments.append(line[i:])
                break
            if line.startswith("/*", i):
                in_block_comment = True
                i += 2
                continue
            if line[i] in "\"'":
                quote = line[i]
                i += 1
                while i < len(line) and line[i] != quote:
                    i += 2 if line[i] == "\\" else 1
                i += 1
                code.append(" ")
                continue
            code.append(line[i])
            i += 1
        yield number, "".join(code), " ".join(comments)


def raw_closes(path: pathlib.Path, text: str):
    pending_marker = False
    depth = 0
    marked_depths = []  # depths of the open blocks marked "after fork:"
    for number, code, comments in split_code_and_comments(text):
        if MARKER in comments:
            pending_marker = True
        calls = {match.start() for match in CLOSE_CALL.finditer(code)}
        for position, char in enumerate(code):
            if position in calls and not marked_depths:
                yield number, code.strip()
            if char == "{":
                depth += 1
                if pending_marker:
                    marked_depths.append(depth)
                    pending_marker = False
            elif char == "}":
                if marked_depths and marked_depths[-1] == depth:
                    marked_depths.pop()
                depth -= 1


SELF_TEST_CASES = [
    # (source, lines the checker must report)
    ("void F(int fd) {\n  close(fd);\n}\n", [2]),
    ("void F(int fd) {\n  ::close(fd);\n}\n", [2]),
    ("void F(std::ofstream& f) {\n  f.close();\n  fclose(nullptr);\n}\n", []),
    ("// close(fd) in a comment\n/* close(fd)\n   close(fd) */\nconst char* s = \"close(fd)\";\n", []),
    ("// after fork: the child\nvoid Child(int fd) {\n  close(fd);\n  if (x) {\n    close(fd);\n  }\n}\n"
     "void Parent(int fd) {\n  close(fd);\n}\n", [9]),
    ("void F(int fd) {\n  if (fork() == 0) {  // after fork: the child\n    close(fd);\n  }\n  close(fd);\n}\n", [5]),
]


def self_test() -> int:
    failed = 0
    for source, expected in SELF_TEST_CASES:
        found = [number for number, _ in raw_closes(pathlib.Path("case.cc"), source)]
        if found != expected:
            print(f"expected lines {expected}, found {found} in:\n{source}")
            failed += 1
    return 1 if failed else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    failures = []
    for path in sorted((root / "src").rglob("*")):
        if path.suffix not in (".cc", ".h", ".in"):
            continue
        relative = pathlib.PurePosixPath(path.relative_to(root).as_posix())
        if exempt(relative):
            continue
        for number, code in raw_closes(path, path.read_text()):
            failures.append(f"{relative}:{number}: {code}")
    if failures:
        print("raw close() outside nvgate::fd::OwnedFd and code marked 'after fork:':")
        print("\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
