#!/usr/bin/env python3
"""bench/report.py DIR: one Markdown table of every performance target, from the results
bench/all.sh left in DIR (each benchmark's JSON, and load.sh's `name value unit` lines for
acc and nginx). Each row: the issue, the figure, acc's value, the baseline measured in the
same run, the ratio, the target and whether it is met. A missing result is shown as
missing, never guessed."""

import json
import os
import sys


def load_json(d, name):
    try:
        with open(os.path.join(d, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_figures(path):
    figures = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and not line.startswith("#"):
                    try:
                        figures[parts[0]] = float(parts[1])
                    except ValueError:
                        pass
    except OSError:
        pass
    return figures


def num(v, digits=0):
    return f"{v:,.{digits}f}"


def verdict(ok):
    return "met" if ok else "**NOT MET**"


MISSING = "missing (see its .txt)"


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: bench/report.py DIR (the --out directory of bench/all.sh)")
    d = sys.argv[1]
    rows = []

    def row(issue, figure, acc, baseline="—", ratio="—", target="—", met=""):
        rows.append((issue, figure, acc, baseline, ratio, target, met))

    pki = load_json(d, "pki")
    if pki:
        rate, sign, verify = pki["certificates_per_s"], pki["openssl_sign_per_s"], pki["openssl_verify_per_s"]
        if sign > 0 and verify > 0:
            bound = 1 / (1 / sign + 1 / verify)
            base = f"`openssl speed ecdsap256`: {num(sign)} sign/s, {num(verify)} verify/s → one verify + one sign: {num(bound)}/s"
            ratio = f"{rate / bound:.2f}×"
        else:
            base, ratio = "openssl speed not available", "—"
        row(2, "fleet CA enrollment (CSR verify + sign + PEM), one core", f"**{num(rate)} certificates/s**",
            base, ratio, "≥ 3,000/s", verdict(rate >= 3000))
    else:
        row(2, "fleet CA enrollment", MISSING)

    acc = load_figures(os.path.join(d, "nginx", "acc.txt"))
    ngx = load_figures(os.path.join(d, "nginx", "nginx.txt"))

    def vs(issue, figure, key, unit, digits=0, target=None, lower_is_better=False):
        if key not in acc or key not in ngx or ngx[key] == 0:
            row(issue, figure, MISSING)
            return
        r = acc[key] / ngx[key]
        ratio = f"{r:.2f}×" + (" (lower is better)" if lower_is_better else "")
        met = verdict(r >= target) if target is not None else ""
        tgt = f"≥ {target:.1f}× nginx" if target is not None else "—"
        row(issue, figure, f"**{num(acc[key], digits)} {unit}**" if target else f"{num(acc[key], digits)} {unit}",
            f"nginx: {num(ngx[key], digits)} {unit}", ratio, tgt, met)

    vs(3, "keep-alive 1 KiB mTLS requests, `wrk -c 64`", "a_keepalive_rps", "req/s", target=1.0)
    vs(3, "site server CPU per keep-alive request", "a_srv_cpu_per_req", "µs", 1, lower_is_better=True)
    vs(3, "full mTLS handshakes, `wrk`, no resumption", "b_full_hs_wrk", "conn/s", target=2.0)
    vs(3, "full mTLS handshakes, `h2load`", "b_full_hs_h2load", "conn/s")
    vs(3, "site server CPU per full handshake", "b_srv_cpu_per_full_hs", "µs", lower_is_better=True)
    vs(3, "1 GiB download, one `curl`", "c_curl_big", "GB/s", 2, target=1.0)
    vs(3, "1 GiB download, `wrk -c 4`", "c_wrk_big_c4", "GB/s", 2)
    vs(3, "site server CPU per GB sent", "c_srv_cpu_per_GB", "s", 2, lower_is_better=True)

    def measured(issue, name, missing, make):
        """One row from DIR/NAME.json: make(data) -> (figure, acc, target, met)."""
        data = load_json(d, name)
        if data is None:
            row(issue, missing, MISSING)
            return
        figure, value, target, ok = make(data)
        row(issue, figure, value, "—", "—", target, verdict(ok))

    measured(3, "register", "registration storm", lambda r: (
        f"registration storm: {num(r['agents'])} agents, {r['connections']} keep-alive connections",
        f"**{num(r['registrations_per_s'])}/s**, p99 **{r['p99_ms']:.1f} ms**, {r['errors']} errors, "
        f"{r['argon2_hashes']} Argon2 hash(es), {r['server_cpu_us_per_registration']:.0f} µs server CPU each",
        "≥ 2,000/s, p99 < 50 ms", r["registrations_per_s"] >= 2000 and r["p99_ms"] < 50 and r["errors"] == 0))

    smart, classic = load_json(d, "flood-smart"), load_json(d, "flood-classic")
    if smart:
        contrast = (f"classic mode, same flood: {classic['good_succeeded']}/{classic['good']} good succeed, "
                    f"{classic['lock_scopes']['account']} account lock" if classic else "—")
        row(3, f"lockout flood, smart: {num(smart['stale_sources'])} stale sources × {smart['attempts']}, {smart['good']} good agents",
            f"**{smart['good_succeeded']}/{smart['good']} good succeed**, {smart['argon2_hashes']} Argon2 hash(es) "
            f"(budget {num(smart['hash_budget'])}), {smart['lock_scopes']['account']} account lock",
            contrast, "—", "every good one succeeds; no hash after each source's first rejections",
            verdict(smart["target_met"]))
    else:
        row(3, "lockout flood", MISSING)

    def propagation(p):
        figure = f"policy change → acknowledged by {p['sites']} simulated site servers"
        value = (f"**{p['median_ms']:.1f} ms** median, {p['max_ms']:.1f} ms max "
                 f"({p['at_last_revision']}/{p['sites']} at the last revision)")
        if p.get("agents"):
            figure += f", with {num(p['agents'])} agents long-polling too"
            value += (f"; every agent has it in {p['agents_median_ms'] / 1000:.2f} s median, "
                      f"{p['agents_max_ms'] / 1000:.2f} s max")
        return figure, value, "100 sites within 2 s", p["target_met"]

    measured(4, "propagation", "policy propagation", propagation)
    measured(4, "propagation-fleet", "policy propagation to the whole fleet", propagation)
    measured(4, "events", "event ingest", lambda e: (
        "event ingest from simulated sites",
        f"**{num(e['events_per_s'])} events/s** ({num(e['stored'])}/{num(e['events'])} stored)",
        "≥ 20,000/s", e["target_met"]))
    measured(4, "agents", "agents long-polling the management server", lambda a: (
        f"{num(a['agents'])} agents long-polling the management server (own mTLS connection each)",
        f"**{a['rss_waiting_kib'] / 1024:.1f} MiB** ({num(a['waiting'])} waiting); a change reaches all in "
        f"{a['change_median_ms'] / 1000:.2f} s",
        "10,000 agents under 500 MiB", a["target_met"] and a["agents"] >= 10000))
    measured(5, "agent-idle", "idle agent", lambda i: (
        f"idle agent (server + site connections held, {i['seconds']} s)",
        f"**{i['rss_kib'] / 1024:.1f} MiB** resident, {i['cpu_s_per_hour']:.2f} s CPU per hour",
        "under 15 MiB", i["rss_kib"] / 1024 < 15))
    measured(6, "longpoll", "site task long-poll capacity", lambda lp: (
        f"{num(lp['agents'])} agents long-polling a site server's tasks (own TLS connection each, as the ACC)",
        f"**{lp['rss_waiting_kib'] / 1024:.1f} MiB** ({lp['kib_per_agent']:.1f} KiB per agent); a task to each: "
        f"all delivered in {lp['all_delivered_s']:.2f} s, all results in {lp['all_completed_s']:.2f} s",
        "10,000 agents served", lp["target_met"] and lp["agents"] >= 10000))

    measured(17, "console", "console pages", lambda c: (
        f"console pages with {num(c['agents'])} agents, {c['sites']} sites, {num(c['stored_events'])} events "
        f"({c['requests_per_page']} requests each, signed in over HTTPS)",
        "slowest page server p99 **" + f"{max(p['server_p99_ms'] for p in c['pages']):.1f} ms** ("
        + max(c["pages"], key=lambda p: p["server_p99_ms"])["page"] + ")",
        "every page p99 < 50 ms", c["target_met"]))

    dl = load_json(d, "download")
    if dl:
        key = "c_wrk_big_c4"
        if key in ngx and ngx[key] > 0:
            base = f"nginx, `wrk -c 4` on a 1 GiB file: {ngx[key]:.2f} GB/s"
            ratio = f"{dl['gb_per_s'] / ngx[key]:.2f}×"
        else:
            base, ratio = "—", "—"
        row(6, f"{dl['agents']} agents download a {num(dl['size_mib'])} MiB file in ranged requests as the ACC",
            f"**{dl['gb_per_s']:.2f} GB/s**, {dl['server_cpu_s_per_gib']:.2f} s site CPU per GiB", base, ratio, "—", "")
    else:
        row(6, "download throughput", MISSING)

    print("| issue | figure | acc | baseline, same run | ratio | target | |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main()
