package org.anode.it;

import org.anode.conformance.BackendConformanceSuite;

/** ND4J against the conformance suite. */
class Nd4jConformanceTest extends BackendConformanceSuite {
  Nd4jConformanceTest() {
    super("nd4j");
  }
}
