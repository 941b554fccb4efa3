package org.anode.backend.nd4j;

import org.anode.api.Backend.BatchNormGradients;
import org.anode.api.Backend.BatchNormResult;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The ND4J backend's batch normalization in training mode: oneDNN's primitive on blocked storage
 * where {@link OneDnnBatchNorm#serves} says so (the output and the input gradient stay blocked, as
 * the convolutions around them want), else null and the caller composes it.
 */
final class Nd4jBatchNorm {
  private final Nd4jBackend backend;

  Nd4jBatchNorm(Nd4jBackend backend) {
    this.backend = backend;
  }

  BatchNormResult forward(Tensor x, Tensor gamma, Tensor beta, double eps) {
    Shape s = x.shape();
    if (!OneDnnBatchNorm.serves(x.dtype(), s)) {
      return null;
    }
    DType dt = x.dtype();
    Shape c = Shape.of(s.dim(1));
    Nd4jTensor tx = Nd4jBackend.own(x);
    INDArray g = Nd4jBackend.arr(gamma);
    INDArray b = Nd4jBackend.arr(beta);
    Tensor mean = backend.create(dt, c, m -> {});
    Tensor variance = null;
    Tensor y = null;
    try {
      INDArray ma = Nd4jBackend.arr(mean);
      variance = backend.create(dt, c, v -> {});
      INDArray va = Nd4jBackend.arr(variance);
      StorageLayout blocked = OneDnn.blockedLayout();
      y =
          backend.create(
              dt,
              s,
              blocked,
              out -> {
                try (Nd4jScratch scratch = new Nd4jScratch()) {
                  OneDnnBatchNorm.forward(
                      scratch.inLayout(tx, blocked), g, b, eps, s, blocked, out, ma, va);
                }
              });
      return new BatchNormResult(y, mean, variance);
    } catch (RuntimeException | Error e) {
      mean.close();
      if (variance != null) {
        variance.close();
      }
      throw e;
    }
  }

  BatchNormGradients backward(
      Tensor x,
      Tensor gamma,
      Tensor mean,
      Tensor variance,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    Shape s = x.shape();
    if (!OneDnnBatchNorm.serves(x.dtype(), s)) {
      return null;
    }
    DType dt = x.dtype();
    Shape c = Shape.of(s.dim(1));
    Nd4jTensor tx = Nd4jBackend.own(x);
    Nd4jTensor tg = Nd4jBackend.own(g);
    INDArray ga = Nd4jBackend.arr(gamma);
    INDArray ma = Nd4jBackend.arr(mean);
    INDArray va = Nd4jBackend.arr(variance);
    // oneDNN writes all three gradients: the ones not wanted go to scratch memory.
    StorageLayout blocked = OneDnn.blockedLayout();
    Nd4jMemory.Block gx = input ? Nd4jMemory.scratch(dt, blocked.storageShape(s)) : null;
    Nd4jMemory.Block gGamma = wantGamma ? Nd4jMemory.scratch(dt, c) : null;
    Nd4jMemory.Block gBeta = wantBeta ? Nd4jMemory.scratch(dt, c) : null;
    try (Nd4jScratch scratch = new Nd4jScratch()) {
      OneDnnBatchNorm.backward(
          scratch.inLayout(tx, blocked),
          ga,
          ma,
          va,
          eps,
          scratch.inLayout(tg, blocked),
          s,
          blocked,
          gx != null ? gx.array() : scratch.get(dt, blocked.storageShape(s)),
          gGamma != null ? gGamma.array() : scratch.get(dt, c),
          gBeta != null ? gBeta.array() : scratch.get(dt, c));
    } catch (RuntimeException | Error e) {
      Nd4jMemory.freeAll(gx, gGamma, gBeta);
      throw e;
    }
    return new BatchNormGradients(
        gx == null ? null : tensor(gx, s, blocked),
        gGamma == null ? null : tensor(gGamma, c, StorageLayout.NCHW),
        gBeta == null ? null : tensor(gBeta, c, StorageLayout.NCHW));
  }

  private Tensor tensor(Nd4jMemory.Block block, Shape shape, StorageLayout layout) {
    return new Nd4jTensor(backend, block.handOver(), shape, DType.FLOAT32, layout);
  }
}
