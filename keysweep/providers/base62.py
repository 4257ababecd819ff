"""Integer encodings used by token checksums."""

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode(number: int, alphabet: str, width: int) -> str:
    base = len(alphabet)
    digits = []
    while number:
        number, rem = divmod(number, base)
        digits.append(alphabet[rem])
    return "".join(reversed(digits)).rjust(width, alphabet[0])
