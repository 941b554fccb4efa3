package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.Module;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.GradientMethod;
import org.anode.ode.RevolveGradient;
import org.anode.ode.StoreAllGradient;
import org.anode.testing.ReferenceNetworks;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The same networks, seeds and inputs on ND4J, TensorFlow and DJL, for store-all, ANODE and
 * revolve: loss and every gradient agree between every pair of backends to ≤ 1e-10 relative in
 * float64 and ≤ 1e-4 in float32. All three backends share this JVM (JavaCPP is pinned to one
 * version for all of them).
 */
class CrossBackendEquivalenceTest {
  static final List<String> BACKENDS = List.of("nd4j", "tensorflow", "djl");

  interface Net {
    Module build(Backend be, DType dtype, Supplier<GradientMethod> method);
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    Map<String, Net> nets = new LinkedHashMap<>();
    nets.put("ode-stack", ReferenceNetworks::odeStack);
    nets.put("ode-resnet", ReferenceNetworks::odeResNet);
    Map<String, Supplier<GradientMethod>> methods = new LinkedHashMap<>();
    methods.put("store-all", StoreAllGradient::new);
    methods.put("anode", CheckpointedGradient::new);
    methods.put("revolve:2", () -> new RevolveGradient(2));
    for (DType dtype : DType.values()) {
      for (var n : nets.entrySet()) {
        for (var m : methods.entrySet()) {
          out.add(Arguments.of(dtype, n.getKey(), n.getValue(), m.getKey(), m.getValue()));
        }
      }
      Net alf = ReferenceNetworks::odeStackAlf;
      Supplier<GradientMethod> reversible = org.anode.ode.ReversibleGradient::new;
      out.add(Arguments.of(dtype, "ode-stack-alf", alf, "reversible", reversible));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1} {3}")
  @MethodSource("cases")
  void everyPairOfBackendsAgrees(
      DType dtype, String netName, Net net, String methodName, Supplier<GradientMethod> method) {
    double tol = dtype == DType.FLOAT64 ? 1e-10 : 1e-4;
    int[] labels = {1, 3};
    Map<String, ReferenceNetworks.Step> steps = new LinkedHashMap<>();
    for (String name : BACKENDS) {
      Backend be = Backends.get(name);
      try (TensorScope scope = TensorScope.open()) {
        Module m = net.build(be, dtype, method);
        Tensor x = ReferenceNetworks.input(be, dtype, 7, 2, 4, 8, 8);
        steps.put(name, ReferenceNetworks.classificationStep(m, x, labels));
        m.close();
      }
    }
    StringBuilder report = new StringBuilder();
    for (int i = 0; i < BACKENDS.size(); i++) {
      for (int j = i + 1; j < BACKENDS.size(); j++) {
        String a = BACKENDS.get(i);
        String b = BACKENDS.get(j);
        double e = ReferenceNetworks.maxError(steps.get(a), steps.get(b));
        report.append(String.format("%s/%s %.1e  ", a, b, e));
        List<String> diff = ReferenceNetworks.differences(steps.get(a), steps.get(b), tol);
        assertTrue(
            diff.isEmpty(),
            dtype + " " + netName + " " + methodName + " " + a + " vs " + b + ": " + diff);
      }
    }
    System.out.println(dtype + " " + netName + " " + methodName + ": " + report);
  }
}
