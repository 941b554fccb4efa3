package org.anode.nn;

import org.anode.api.Backend;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;

/**
 * Batch normalization over the N, H and W axes of NCHW input (Ioffe and Szegedy 2015): {@code y =
 * γ·(x − μ)/√(σ² + ε) + β} per channel. In training mode μ and σ² (biased) are the batch's, and the
 * running estimates move by {@code momentum} toward them (the running variance uses the unbiased
 * batch variance, as PyTorch does) — except during a {@link Recomputation}, which must not move
 * them twice. In evaluation mode the running estimates are used.
 */
public final class BatchNorm2d extends Module {
  private final int channels;
  private final double eps;
  private final double momentum;
  private final Parameter gamma;
  private final Parameter beta;

  public BatchNorm2d(ParameterFactory f, int channels, double eps, double momentum) {
    this.channels = channels;
    this.eps = eps;
    this.momentum = momentum;
    this.gamma = registerParameter("weight", f.create(Shape.of(channels), Initializer.constant(1)));
    this.beta = registerParameter("bias", f.create(Shape.of(channels), Initializer.constant(0)));
    registerBuffer("running_mean", f.tensor(new double[channels], Shape.of(channels)));
    double[] ones = new double[channels];
    java.util.Arrays.fill(ones, 1.0);
    registerBuffer("running_var", f.tensor(ones, Shape.of(channels)));
  }

  /** PyTorch's defaults: ε = 1e-5, momentum 0.1. */
  public BatchNorm2d(ParameterFactory f, int channels) {
    this(f, channels, 1e-5, 0.1);
  }

  public Parameter weight() {
    return gamma;
  }

  public Parameter bias() {
    return beta;
  }

  public Tensor runningMean() {
    return buffer("running_mean");
  }

  public Tensor runningVar() {
    return buffer("running_var");
  }

  @Override
  public Variable forward(Variable x) {
    Shape s = x.shape();
    if (s.rank() != 4 || s.dim(1) != channels) {
      throw new IllegalArgumentException(
          "BatchNorm2d(" + channels + "): input " + s + " must be [N, " + channels + ", H, W]");
    }
    // The layer's intermediates die with it; what they saved for backward goes to the tape.
    return Tape.inOwnScope(() -> normalize(x, s));
  }

  private Variable normalize(Variable x, Shape s) {
    if (isTraining()) {
      // One fused op (Backend.batchNorm): a backend with a batch-norm primitive runs it in two
      // passes instead of about ten reductions and broadcasts.
      Ops.Normalized n = Ops.batchNorm(x, gamma, beta, eps);
      if (!Recomputation.active()) {
        updateRunningStats(n.mean(), n.variance(), s.numel() / channels);
      }
      return n.output();
    }
    Shape perChannel = Shape.of(1, channels, 1, 1);
    Backend be = x.backend();
    Tensor rm = be.reshape(runningMean(), perChannel);
    Tensor inv = be.powScalar(be.addScalar(be.reshape(runningVar(), perChannel), eps), -0.5);
    Variable xhat = Ops.mul(Ops.sub(x, Variable.constant(rm)), Variable.constant(inv));
    return Ops.add(Ops.mul(xhat, Ops.reshape(gamma, perChannel)), Ops.reshape(beta, perChannel));
  }

  private void updateRunningStats(Tensor batchMean, Tensor batchVar, long count) {
    Backend be = batchMean.backend();
    Shape c = Shape.of(channels);
    double unbias = count > 1 ? (double) count / (count - 1) : 1.0;
    setBuffer(
        "running_mean",
        be.add(
            be.mulScalar(runningMean(), 1 - momentum),
            be.mulScalar(be.reshape(batchMean, c), momentum)));
    setBuffer(
        "running_var",
        be.add(
            be.mulScalar(runningVar(), 1 - momentum),
            be.mulScalar(be.reshape(batchVar, c), momentum * unbias)));
  }
}
