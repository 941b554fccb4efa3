package org.anode.it;

import org.anode.conformance.BackendConformanceSuite;

/** TensorFlow Java against the conformance suite. */
class TensorFlowConformanceTest extends BackendConformanceSuite {
  TensorFlowConformanceTest() {
    super("tensorflow");
  }
}
