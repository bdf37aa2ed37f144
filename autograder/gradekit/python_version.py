"""The Python versions the kit supports: the grading lock installs on them and `make test`
grades the built zip under each one. Gradescope's image runs the newest (environment.yml).

Run as a script (any Python 3) to check an interpreter: exits 1 with a message naming the
supported range if it is outside it. ``--oldest`` / ``--image`` print one version.
"""

import sys

OLDEST = (3, 11)
NEWEST = (3, 13)
SUPPORTED = [(3, minor) for minor in range(OLDEST[1], NEWEST[1] + 1)]
IMAGE = NEWEST


def dotted(version):
    return "%d.%d" % version


def problem():
    """None if this interpreter is supported, else a message saying why not."""
    version = tuple(sys.version_info[:2])
    if OLDEST <= version <= NEWEST:
        return None
    return ("backprop-kit supports Python %s to %s; %s is Python %s"
            % (dotted(OLDEST), dotted(NEWEST), sys.executable, dotted(version)))


def main(argv):
    if argv[1:] == ["--oldest"]:
        print(dotted(OLDEST))
    elif argv[1:] == ["--image"]:
        print(dotted(IMAGE))
    else:
        message = problem()
        if message:
            sys.stderr.write(message + "\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
