"""Adversarial harness: what the security and reliability tests and the fuzz campaign share.

* ``harness``: a rollup node in a box (router + fresh database + input counter), the
  invariants every state must satisfy, output decoding, and the seeded mixed-input log.
* ``rig``: the HTTP side: a fault-injecting proxy in front of the local rollup host, and
  ``dapp.py`` run as a process or in a thread.
* ``fuzz_decoders.py``: the coverage-guided (atheris) target for the payload decoders,
  run by ``make fuzz``; not part of CI.
"""
