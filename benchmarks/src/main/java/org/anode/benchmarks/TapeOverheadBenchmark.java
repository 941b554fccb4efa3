package org.anode.benchmarks;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Parameter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The tape's overhead over raw backend kernels on a conv block, f(z) = conv3×3(ReLU(conv3×3(z))) at
 * 64 channels, forward and backward: {@code raw} calls the same kernels by hand (the two convs,
 * ReLU, the ReLU mask, both conv gradients twice); {@code tape} records {@link Ops} and sweeps. The
 * goal is ≤ 5% overhead.
 *
 * <pre>
 * mvn -B -Pbenchmarks -DskipTests install -pl benchmarks -am
 * java -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" \
 *     org.openjdk.jmh.Main TapeOverhead -p backend=nd4j
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TapeOverheadBenchmark {
  @Param({"nd4j"})
  public String backend;

  @Param({"8"})
  public int batch;

  private Backend be;
  private Tensor x;
  private Tensor g;
  private Parameter w1;
  private Parameter w2;
  private final Conv2dSpec spec = Conv2dSpec.of(1, 1);

  @Setup(Level.Trial)
  public void setUp() {
    be = Backends.get(backend);
    SplittableRandom rng = new SplittableRandom(1);
    x = TensorScope.detach(random(rng, batch, 64, 32, 32));
    g = TensorScope.detach(random(rng, batch, 64, 32, 32));
    w1 = new Parameter(random(rng, 64, 64, 3, 3));
    w2 = new Parameter(random(rng, 64, 64, 3, 3));
  }

  private Tensor random(SplittableRandom rng, int... dims) {
    float[] v = new float[(int) Shape.of(dims).numel()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextDouble(-0.1, 0.1);
    }
    return be.fromArray(v, Shape.of(dims));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    x.close();
    g.close();
    w1.close();
    w2.close();
  }

  @Benchmark
  public void raw(Blackhole bh) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor a = be.conv2d(x, w1.value(), null, spec);
      Tensor r = be.relu(a);
      Tensor y = be.conv2d(r, w2.value(), null, spec);
      var g2 = be.conv2dBackward(r, w2.value(), g, spec, true, true);
      Tensor mask = be.greaterThan(r, be.scalar(0, DType.FLOAT32));
      Tensor ga = be.mul(g2.input(), mask);
      var g1 = be.conv2dBackward(x, w1.value(), ga, spec, false, true);
      bh.consume(y);
      bh.consume(g1.weight());
      bh.consume(g2.weight());
    }
  }

  @Benchmark
  public void tape(Blackhole bh) {
    try (TensorScope scope = TensorScope.open();
        Tape tape = Tape.record()) {
      Variable y =
          Ops.conv2d(Ops.relu(Ops.conv2d(Variable.constant(x), w1, null, spec)), w2, null, spec);
      tape.backward(y, g);
      bh.consume(w1.grad());
      bh.consume(w2.grad());
      w1.zeroGrad();
      w2.zeroGrad();
    }
  }
}
