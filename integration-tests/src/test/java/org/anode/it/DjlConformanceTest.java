package org.anode.it;

import org.anode.conformance.BackendConformanceSuite;

/** DJL (PyTorch engine) against the conformance suite. */
class DjlConformanceTest extends BackendConformanceSuite {
  DjlConformanceTest() {
    super("djl");
  }
}
