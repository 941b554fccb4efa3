package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TType;

/**
 * The TensorFlow backend's compiled kernels, one per {@link KernelKey} (op, attributes, input types
 * and shapes, and the values the graph builder captured), each compiled on first use and run on
 * every later call with that signature. Closing the cache closes every graph and session.
 *
 * <p>A kernel's arguments are anode tensors or scalars: a scalar (a {@code Double}) is fed as a 0-d
 * tensor, so a new value (a step size, a ReLU threshold, the zero a padding fills with) reuses the
 * graph instead of compiling another.
 */
@SuppressWarnings({"rawtypes", "unchecked"})
final class TfKernelCache implements AutoCloseable {
  private final TfBackend backend;
  private final ConfigProto config;
  private final Map<KernelKey, TfKernel> kernels = new ConcurrentHashMap<>();

  TfKernelCache(TfBackend backend, ConfigProto config) {
    this.backend = backend;
    this.config = config;
  }

  static Class<? extends TType> type(DType d) {
    return d == DType.FLOAT32 ? TFloat32.class : TFloat64.class;
  }

  static org.tensorflow.ndarray.Shape tfShape(Shape s) {
    return org.tensorflow.ndarray.Shape.of(s.dimsAsLong());
  }

  /** Number of compiled kernels. */
  int size() {
    return kernels.size();
  }

  @Override
  public void close() {
    kernels.values().forEach(TfKernel::close);
    kernels.clear();
  }

  /** Runs the one-output kernel {@code op}; scalars take the dtype of the first tensor argument. */
  Tensor run(String op, String attrs, List<Object> args, TfKernel.Builder b) {
    return runAll(
            op,
            attrs,
            scalarType(args),
            args,
            (TfKernel.MultiBuilder) (tf, in) -> List.of(b.build(tf, in)))
        .get(0);
  }

  /**
   * Runs the kernel {@code op} with {@code attrs} on {@code args}: anode tensors, or scalars
   * (Double) fed as 0-d tensors in {@code scalarType}. The builder reads every input in the api's
   * layout and its outputs are in it too; they are new tensors anode owns.
   */
  List<Tensor> runAll(
      String op, String attrs, DType scalarType, List<Object> args, TfKernel.MultiBuilder b) {
    return runLayout(
        op, attrs, scalarType, args, (tf, in) -> b.build(tf, in.allNchw()), new boolean[0]);
  }

  /**
   * Runs a one-output kernel whose builder picks the layout of each input ({@link TfInputs}) and
   * whose output is channels-last when {@code channelsLastOutput}.
   */
  Tensor runLayout(
      String op,
      String attrs,
      List<Object> args,
      TfKernel.LayoutBuilder b,
      boolean channelsLastOutput) {
    return runLayout(op, attrs, scalarType(args), args, b, new boolean[] {channelsLastOutput})
        .get(0);
  }

  /**
   * Runs the kernel {@code op}: {@code args} are fed as stored, the builder chooses the layout it
   * reads each in, and output {@code i} is channels-last when {@code channelsLastOutputs[i]} (an
   * array shorter than the outputs leaves the rest NCHW).
   */
  List<Tensor> runLayout(
      String op,
      String attrs,
      DType scalarType,
      List<Object> args,
      TfKernel.LayoutBuilder b,
      boolean[] channelsLastOutputs) {
    List<TfKernel.Input> signature = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> feeds = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> temporary = new ArrayList<>();
    try {
      for (Object a : args) {
        if (a instanceof Tensor t) {
          TType stored = TfBackend.tf(t);
          feeds.add(stored);
          signature.add(
              new TfKernel.Input(type(t.dtype()), stored.shape(), ((TfTensor) t).channelsLast()));
        } else {
          double s = (Double) a;
          org.tensorflow.Tensor v =
              scalarType == DType.FLOAT32 ? TFloat32.scalarOf((float) s) : TFloat64.scalarOf(s);
          temporary.add(v);
          feeds.add(v);
          signature.add(
              new TfKernel.Input(type(scalarType), org.tensorflow.ndarray.Shape.scalar(), false));
        }
      }
      TfKernel kernel =
          kernels.computeIfAbsent(
              KernelKey.of(op, attrs, signature, b), k -> new TfKernel(signature, b, config));
      List<TType> results = kernel.run(feeds);
      List<Tensor> out = new ArrayList<>(results.size());
      for (int i = 0; i < results.size(); i++) {
        boolean channelsLast = i < channelsLastOutputs.length && channelsLastOutputs[i];
        out.add(backend.wrap(results.get(i), true, channelsLast));
      }
      return out;
    } finally {
      temporary.forEach(org.tensorflow.Tensor::close);
    }
  }

  /**
   * Whether an elementwise op over {@code operands} with an output of {@code out} runs
   * channels-last: when the output is an image and one of its operands is stored channels-last. The
   * others are then transposed inside the op's graph ({@link TfInputs#nhwc}), the output stays
   * channels-last, and a chain of such ops (an ODE block's ReLU, h·f, z + h·f and their gradients)
   * never converts.
   */
  static boolean channelsLast(Shape out, List<Object> operands) {
    if (out.rank() != 4) {
      return false;
    }
    for (Object o : operands) {
      if (o instanceof Tensor t && TfBackend.channelsLast(t)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs the elementwise kernel {@code op} over {@code operands} (tensors, and scalars fed as 0-d
   * tensors): channels-last when {@link #channelsLast(Shape, List)} says so, in the api's layout
   * otherwise. The builder reads every input in that one layout.
   */
  Tensor elementwise(
      String op, String attrs, Shape out, List<Object> operands, TfKernel.Builder b) {
    if (!channelsLast(out, operands)) {
      return run(op, attrs, operands, b);
    }
    return runLayout(
        op + "/nhwc",
        attrs,
        operands,
        (tf, in) -> {
          List<Operand> nhwc = new ArrayList<>(in.size());
          for (int i = 0; i < in.size(); i++) {
            nhwc.add(in.nhwc(i));
          }
          return List.of(b.build(tf, nhwc));
        },
        true);
  }

  /** The dtype scalars are fed in: that of the first tensor argument. */
  private static DType scalarType(List<Object> args) {
    for (Object a : args) {
      if (a instanceof Tensor t) {
        return t.dtype();
      }
    }
    return DType.FLOAT64;
  }
}
