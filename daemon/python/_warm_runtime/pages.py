# Copy-on-write faults are most of a warm child's cost on these machines
# (~2.5 us each; hg version -q takes ~850 of them). A child learns which of
# the template's pages a run wrote (pagemap's "exclusively mapped" bit),
# the daemon hands that list to the next children of the same template,
# and each writes those pages while it waits for a caller: the copies are
# made off the caller's time, and only of pages a run copies anyway.
import os

PAGE = os.sysconf("SC_PAGE_SIZE")
EXCLUSIVE = 1 << 56
PRESENT = 1 << 63
MAX_PAGES = 1 << 16  # 256 MiB of 4 KiB pages at most


def _writable_private():
    """(first page, end page) of every private writable mapping but the stack."""
    out = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            if not parts[1].startswith("rw") or parts[1][3] != "p":
                continue
            if len(parts) > 5 and parts[5].startswith("[") and parts[5] != "[heap]":
                continue
            lo, hi = (int(x, 16) // PAGE for x in parts[0].split("-"))
            out.append((lo, hi))
    return out


def touched():
    """Pages this process holds privately (written since the fork, or new), as [first, count, ...]."""
    ranges = []
    total = 0
    with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
        for lo, hi in _writable_private():
            pagemap.seek(lo * 8)
            data = pagemap.read((hi - lo) * 8)
            entries = memoryview(data).cast("Q")
            run_start = None
            for i, entry in enumerate(entries):
                mine = entry & PRESENT and entry & EXCLUSIVE
                if mine and run_start is None:
                    run_start = i
                elif not mine and run_start is not None:
                    ranges += [lo + run_start, i - run_start]
                    total += i - run_start
                    run_start = None
            if run_start is not None:
                ranges += [lo + run_start, len(entries) - run_start]
                total += len(entries) - run_start
            if total > MAX_PAGES:
                break
    return ranges


def prefault(ranges, link_fd):
    """Writes one byte (its own value) of each listed page that is still a
    private writable mapping here; anything else is skipped. Stops as soon
    as a caller's run arrives on the link: it must not wait for this."""
    if not ranges:
        return
    import ctypes
    import select

    poller = select.poll()
    poller.register(link_fd, select.POLLIN)
    maps = _writable_private()
    done = 0
    for k in range(0, len(ranges) - 1, 2):
        first, count = ranges[k], ranges[k + 1]
        for lo, hi in maps:
            start, end = max(first, lo), min(first + count, hi)
            for page in range(start, end):
                byte = ctypes.c_char.from_address(page * PAGE)
                byte.value = byte.value
                done += 1
                if done % 64 == 0 and poller.poll(0):
                    return
