package org.anode.backend.nd4j;

import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.scalar.ScalarMultiplication;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The ND4J backend's pooling: libnd4j's {@code avgpool2d} and {@code avgpool2d_bp} in NCHW with
 * padding counted as zeros (divisor kH·kW, as the other backends), and the global average pool's
 * gradient as one broadcast and one scaling into the result.
 */
final class Nd4jPooling {
  private final Nd4jBackend backend;

  Nd4jPooling(Nd4jBackend backend) {
    this.backend = backend;
  }

  private static int[] poolArgs(Pool2dSpec s) {
    return new int[] {
      s.kernelH(),
      s.kernelW(),
      s.strideH(),
      s.strideW(),
      s.padH(),
      s.padW(),
      1,
      1,
      0, // explicit padding
      1, // divide by kH*kW: padding counts as zeros
      0 // NCHW
    };
  }

  Tensor avgPool2d(Tensor x, Pool2dSpec spec, Shape out) {
    INDArray a = Nd4jBackend.arr(x);
    return backend.create(
        x.dtype(),
        out,
        z ->
            Nd4j.exec(
                DynamicCustomOp.builder("avgpool2d")
                    .addInputs(a)
                    .addOutputs(z)
                    .addIntegerArguments(poolArgs(spec))
                    .build()));
  }

  Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    INDArray g = Nd4jBackend.arr(gradOut);
    return backend.create(
        gradOut.dtype(),
        inputShape,
        gx -> {
          try (Nd4jScratch s = new Nd4jScratch()) {
            INDArray x = s.get(gradOut.dtype(), inputShape); // only its shape is read
            Nd4j.exec(
                DynamicCustomOp.builder("avgpool2d_bp")
                    .addInputs(x, g)
                    .addOutputs(gx)
                    .addIntegerArguments(poolArgs(spec))
                    .build());
          }
        });
  }

  Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    INDArray g = Nd4jBackend.arr(gradOut);
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    return backend.create(
        gradOut.dtype(),
        inputShape,
        z -> {
          Nd4jArrays.broadcastInto(g, z);
          Nd4j.exec(new ScalarMultiplication(z, null, z, scale));
        });
  }
}
