package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
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
    DType scalarType = DType.FLOAT64;
    for (Object a : args) {
      if (a instanceof Tensor t) {
        scalarType = t.dtype();
        break;
      }
    }
    return runAll(
            op,
            attrs,
            scalarType,
            args,
            (TfKernel.MultiBuilder) (tf, in) -> List.of(b.build(tf, in)))
        .get(0);
  }

  /**
   * Runs the kernel {@code op} with {@code attrs} on {@code args}: anode tensors, or scalars
   * (Double) fed as 0-d tensors in {@code scalarType}. Its outputs are new tensors anode owns.
   */
  List<Tensor> runAll(
      String op, String attrs, DType scalarType, List<Object> args, TfKernel.MultiBuilder b) {
    List<TfKernel.Input> signature = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> feeds = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> temporary = new ArrayList<>();
    try {
      for (Object a : args) {
        if (a instanceof Tensor t) {
          feeds.add(TfBackend.tf(t));
          signature.add(new TfKernel.Input(type(t.dtype()), tfShape(t.shape())));
        } else {
          double s = (Double) a;
          org.tensorflow.Tensor v =
              scalarType == DType.FLOAT32 ? TFloat32.scalarOf((float) s) : TFloat64.scalarOf(s);
          temporary.add(v);
          feeds.add(v);
          signature.add(
              new TfKernel.Input(type(scalarType), org.tensorflow.ndarray.Shape.scalar()));
        }
      }
      TfKernel kernel =
          kernels.computeIfAbsent(
              KernelKey.of(op, attrs, signature, b), k -> new TfKernel(signature, b, config));
      List<Tensor> out = new ArrayList<>();
      for (TType t : kernel.run(feeds)) {
        out.add(backend.wrap(t, true));
      }
      return out;
    } finally {
      temporary.forEach(org.tensorflow.Tensor::close);
    }
  }
}
