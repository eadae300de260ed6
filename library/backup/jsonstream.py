"""Reading one large JSON object member by member, with the big arrays read item by item.

The standard json module reads a whole document at once; an export of 100,000
files is read here a buffer at a time instead, each array item decoded on its
own (json's raw_decode), so memory holds one record, not the library.
"""

import json

CHUNK = 1 << 16
# No single value of an export comes near this: past it, the text is broken, not long.
MAX_VALUE = 16 * 1024 * 1024
_WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder()


class BrokenJSON(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at character {position})")
        self.position = position


class Reader:
    """members() yields (key, value) of the top-level object; for a key in `streamed` the value
    is an iterator over the array's items, to be read before the next member (what is left of it
    is skipped)."""

    def __init__(self, fh, streamed=()):
        self.fh = fh
        self.streamed = frozenset(streamed)
        self.buf = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the buffer's front
        self.eof = False

    @property
    def position(self) -> int:
        return self.consumed + self.pos

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(CHUNK)
        if not data:
            self.eof = True
            return False
        self.consumed += self.pos
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _expect(self, chars: str, what: str) -> str:
        found = self._peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end of the file"
            raise BrokenJSON(f"Expecting {what}, found {shown}", self.position)
        self.pos += 1
        return found

    def _value(self):
        self._peek()
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos < MAX_VALUE and self._fill():
                    continue  # the value may go on in the next chunk
                raise BrokenJSON(exc.msg, self.consumed + exc.pos) from None
            if end == len(self.buf) and self._fill():
                continue  # a number at the buffer's end may have more digits
            self.pos = end
            return value

    def _items(self):
        self._expect("[", "an array")
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            yield self._value()
            if self._expect(",]", "',' or ']'") == "]":
                return

    def members(self):
        self._expect("{", "a JSON object")
        if self._peek() == "}":
            self.pos += 1
        else:
            while True:
                if self._peek() != '"':
                    raise BrokenJSON("Expecting a member name in double quotes", self.position)
                key = self._value()
                self._expect(":", "':'")
                if key in self.streamed:
                    items = self._items()
                    yield key, items
                    for _ in items:
                        pass
                else:
                    yield key, self._value()
                if self._expect(",}", "',' or '}'") == "}":
                    break
        if self._peek():
            raise BrokenJSON("Extra text after the JSON object", self.position)
