# Prints, for code objects compiled by the running interpreter, the raw line table and the line
# CPython itself gives for every instruction offset, for tests/python/line_table_test.cpp:
#   C <first line> <table as hex>       (co_lnotab before 3.10, co_linetable from 3.10)
#   L <byte offset> <line, -1 for none>
import dis
import sys

SOURCE = '''
def simple(a, b):
    c = a + b
    return c * 2


def loops(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        else:
            total -= 1
    while total > 100:
        total //= 2
    return total


def multi_line(x):
    return max(
        x,
        1,
        2,
    ) + min(x,
            3)


def handlers(x):
    try:
        y = 1 / x
    except ZeroDivisionError:
        y = 0
    finally:
        x = None
    return y


def nested():
    def inner(q):
        return [v * 2 for v in q if v]
    f = lambda z: z + 1
    return inner([1, 2]), f(3), (w for w in range(3))
''' + "\n" * 300 + '''
def far_away(a):
    b = a
''' + "\n" * 200 + '''
    return b
''' + "\n" * 70000 + '''
def very_far():
    return 1
'''


def code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from code_objects(const)


def expected_lines(code):
    size = len(code.co_code)
    if sys.version_info >= (3, 10):
        ranges = list(code.co_lines())
        for offset in range(0, size, 2):
            line = -1
            for start, end, ln in ranges:
                if start <= offset < end:
                    line = -1 if ln is None else ln
                    break
            yield offset, line
    else:
        starts = list(dis.findlinestarts(code))
        for offset in range(0, size, 2):
            line = code.co_firstlineno
            for start, ln in starts:
                if start <= offset:
                    line = ln
            yield offset, line


module = compile(SOURCE, "<lines>", "exec")
for code in code_objects(module):
    table = code.co_linetable if sys.version_info >= (3, 10) else code.co_lnotab
    print("C", code.co_firstlineno, table.hex() or "-")
    for offset, line in expected_lines(code):
        print("L", offset, line)
