"""Course content as files: ``course_content/<slug>/course.yaml`` plus Markdown lessons.

``sync_content`` validates every course first and then upserts them all, so a
mistake in one file changes nothing; errors name the file and the field.
Lessons are rendered to HTML once, at sync time, and sanitised with nh3.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from .models import TIERS, CourseContent, Lesson

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ALLOWED_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "blockquote",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "br",
}


@dataclass
class ContentError:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ContentRejected(ValueError):
    """The course folder has errors; nothing was synced."""

    def __init__(self, errors: list[ContentError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


def render_lesson(text: str) -> str:
    """Render lesson Markdown to sanitised HTML (no scripts, links, images or styles)."""
    # Imported here, as in _read_meta: only a sync reads content, and these are slow to import
    import markdown
    import nh3

    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={}, link_rel=None)


def _number(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def _read_course(folder: Path, errors: list[ContentError]) -> dict | None:
    """Read and check one course folder; return its data, or None after noting its errors."""
    name = f"{folder.name}/course.yaml"
    meta, raw = _read_meta(folder, name, errors)
    if meta is None:
        return None
    start = len(errors)
    hours, objectives = _check_meta(meta, name, errors)
    lessons = meta.get("lessons")
    if not isinstance(lessons, list) or not lessons:
        errors.append(ContentError(name, "lessons", "a non-empty list"))
        return None
    parsed, texts = _read_lessons(folder, name, lessons, errors)
    quiz, quiz_raw = _read_quiz(folder, errors)
    total = sum((item["hours"] for item in parsed), Decimal(0))
    if hours is not None and not errors[start:] and total != hours:
        errors.append(ContentError(name, "lessons", f"lesson hours add up to {total}, the course has {hours}"))
    if errors[start:]:
        return None
    return {
        "slug": folder.name,
        "code": meta["code"].strip(),
        "title": meta["title"].strip(),
        "hours": hours,
        "tier": meta.get("tier"),
        "summary": meta.get("summary"),
        "audience": meta.get("audience"),
        "objectives": objectives,
        "checksum": hashlib.sha256(raw + b"".join(texts) + quiz_raw).hexdigest(),
        "lessons": parsed,
        "quiz": quiz,
    }


QUIZ_KINDS = ("single", "multiple", "truefalse", "short")
MAX_QUIZ_QUESTIONS = 100


def _read_quiz(folder: Path, errors: list[ContentError]) -> tuple[dict | None, bytes]:
    """Read and check the folder's optional ``quiz.yaml``; return it as stored (the answer key included: it
    stays on the server) and its bytes, or None after noting what is wrong."""
    import yaml

    path = folder / "quiz.yaml"
    if not path.is_file():
        return None, b""
    name = f"{folder.name}/quiz.yaml"
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(ContentError(name, "-", f"not valid UTF-8 YAML ({exc.__class__.__name__})"))
        return None, raw
    start = len(errors)
    if not isinstance(data, dict):
        errors.append(ContentError(name, "-", "must be a mapping of fields"))
        return None, raw
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 120:
        errors.append(ContentError(name, "title", "required text"))
    minutes, attempts = data.get("time_limit_minutes"), data.get("attempts", 1)
    if minutes is not None and (not isinstance(minutes, int) or not 1 <= minutes <= 600):
        errors.append(ContentError(name, "time_limit_minutes", "whole minutes from 1 to 600, or left out"))
    if not isinstance(attempts, int) or not 1 <= attempts <= 9:
        errors.append(ContentError(name, "attempts", "a whole number from 1 to 9"))
    questions = data.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUIZ_QUESTIONS:
        errors.append(ContentError(name, "questions", f"a list of 1 to {MAX_QUIZ_QUESTIONS} questions"))
        return None, raw
    checked = [_check_question(q, f"questions[{i}]", name, errors) for i, q in enumerate(questions, start=1)]
    if errors[start:]:
        return None, raw
    return {
        "title": title.strip(),
        "time_limit_minutes": minutes,
        "attempts": attempts,
        "shuffle": bool(data.get("shuffle", True)),
        "questions": checked,
    }, raw


def _check_question(q, where: str, name: str, errors: list[ContentError]) -> dict | None:
    if not isinstance(q, dict) or q.get("kind") not in QUIZ_KINDS:
        errors.append(ContentError(name, where, f"a mapping whose kind is one of {', '.join(QUIZ_KINDS)}"))
        return None
    text, points = q.get("text"), q.get("points", 1)
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        errors.append(ContentError(name, f"{where}.text", "required text of at most 2000 characters"))
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 100:
        errors.append(ContentError(name, f"{where}.points", "a whole number from 1 to 100"))
    out = {"kind": q["kind"], "text": (text or "").strip(), "points": points}
    kind, answer = q["kind"], q.get("answer")
    if kind in ("single", "multiple"):
        options = q.get("options")
        if (
            not isinstance(options, list)
            or not 2 <= len(options) <= 10
            or not all(isinstance(o, str) and o.strip() for o in options)
        ):
            errors.append(ContentError(name, f"{where}.options", "a list of 2 to 10 texts"))
            return None
        out["options"] = [o.strip() for o in options]
        picks = answer if kind == "multiple" else [answer]
        if (
            not isinstance(picks, list)
            or not picks
            or len(set(picks)) != len(picks)
            or not all(isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= len(options) for a in picks)
        ):
            expected = "a list of option numbers (1 for the first)" if kind == "multiple" else "an option number"
            errors.append(ContentError(name, f"{where}.answer", expected))
            return None
        out["answer"] = sorted(a - 1 for a in picks)  # stored from 0
    elif kind == "truefalse":
        if not isinstance(answer, bool):
            errors.append(ContentError(name, f"{where}.answer", "true or false"))
            return None
        out["answer"] = answer
    elif answer is not None:
        errors.append(ContentError(name, f"{where}.answer", "a short answer is graded by a coordinator: no answer"))
    return out


def _read_meta(folder: Path, name: str, errors: list[ContentError]) -> tuple[dict | None, bytes]:
    """Return the folder's ``course.yaml`` as a mapping and its bytes, or None after noting why not."""
    import yaml

    if not SLUG_RE.match(folder.name):
        errors.append(ContentError(folder.name, "slug", "folder names are lower-case letters, digits and hyphens"))
        return None, b""
    meta_path = folder / "course.yaml"
    if not meta_path.is_file():
        errors.append(ContentError(name, "-", "missing"))
        return None, b""
    raw = meta_path.read_bytes()
    try:
        meta = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(ContentError(name, "-", f"not valid UTF-8 YAML ({exc.__class__.__name__})"))
        return None, raw
    if not isinstance(meta, dict):
        errors.append(ContentError(name, "-", "must be a mapping of fields"))
        return None, raw
    return meta, raw


def _check_meta(meta: dict, name: str, errors: list[ContentError]) -> tuple[Decimal | None, list]:
    """Check the course's own fields; return its hours (None if wrong) and objectives."""
    for key in ("code", "title"):
        if (
            not isinstance(meta.get(key), str)
            or not meta[key].strip()
            or len(meta[key]) > (32 if key == "code" else 120)
        ):
            errors.append(ContentError(name, key, "required text"))
    hours = _number(meta.get("hours"))
    if hours is None:
        errors.append(ContentError(name, "hours", "a positive number is required"))
    if meta.get("tier") is not None and meta.get("tier") not in TIERS:
        errors.append(ContentError(name, "tier", f"one of {', '.join(TIERS)}"))
    objectives = meta.get("objectives") or []
    if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
        errors.append(ContentError(name, "objectives", "a list of text"))
    return hours, objectives


def _read_lessons(folder: Path, name: str, lessons: list, errors: list[ContentError]) -> tuple[list[dict], list[bytes]]:
    """Read the listed lessons; return the readable ones (rendered) and their texts, noting what is wrong."""
    parsed, texts = [], []
    for i, lesson in enumerate(lessons, start=1):
        item = _read_lesson(folder, name, i, lesson, errors)
        if item is not None:
            texts.append(item.pop("text").encode())
            parsed.append(item)
    return parsed, texts


def _read_lesson(folder: Path, name: str, i: int, lesson, errors: list[ContentError]) -> dict | None:
    """Read lesson ``i`` of ``course.yaml``; return it with its text, or None after noting why not."""
    where = f"lessons[{i}]"
    if not isinstance(lesson, dict):
        errors.append(ContentError(name, where, "must have file, title and hours"))
        return None
    file = lesson.get("file")
    if not isinstance(file, str) or "/" in file or "\\" in file or not file.endswith(".md"):
        errors.append(ContentError(name, f"{where}.file", "a Markdown file name in this folder"))
        return None
    path = folder / file
    if not path.is_file():
        errors.append(ContentError(f"{folder.name}/{file}", "file", "listed in course.yaml but missing"))
        return None
    if not isinstance(lesson.get("title"), str) or not lesson["title"].strip():
        errors.append(ContentError(name, f"{where}.title", "required text"))
    lesson_hours = _number(lesson.get("hours"))
    if lesson_hours is None:
        errors.append(ContentError(name, f"{where}.hours", "a positive number is required"))
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        errors.append(ContentError(f"{folder.name}/{file}", "-", "not UTF-8 text"))
        return None
    title = str(lesson.get("title", "")).strip()
    html = render_lesson(text)
    return {"position": i, "file": file, "title": title, "hours": lesson_hours, "html": html, "text": text}


def sync_content(root: Path) -> dict[str, int]:
    """Load every course folder under ``root`` (all or none); return counts of created/updated/unchanged."""
    errors: list[ContentError] = []
    courses = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        course = _read_course(folder, errors)
        if course:
            courses.append(course)
    if errors:
        raise ContentRejected(errors)
    existing = {c.slug: c for c in db.session.scalars(select(CourseContent))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for data in courses:
        row = existing.get(data["slug"])
        if row is not None and row.checksum == data["checksum"]:
            counts["unchanged"] += 1
            continue
        if row is None:
            row = CourseContent(slug=data["slug"])
            db.session.add(row)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        for key in ("code", "title", "hours", "tier", "summary", "audience", "objectives", "checksum", "quiz"):
            setattr(row, key, data[key])
        row.lessons.clear()
        db.session.flush()  # old lessons go first: (content, position) is unique
        row.lessons = [
            Lesson(
                position=item["position"],
                file=item["file"],
                title=item["title"],
                hours=item["hours"],
                body_html=item["html"],
            )
            for item in data["lessons"]
        ]
        db.session.flush()
    return counts
