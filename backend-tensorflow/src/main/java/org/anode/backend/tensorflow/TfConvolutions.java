package org.anode.backend.tensorflow;

import java.util.List;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;

/**
 * The TensorFlow backend's convolution kernels: the forward convolution (alone or with its ReLU)
 * and its gradients, each a compiled graph from {@link TfConvolutionGraphs} run through the {@link
 * TfKernelCache}. Images come in whichever layout they are stored in and leave channels-last, so an
 * ODE block's activations and gradients are never transposed between its convolutions (see {@link
 * TfTensor}); weights and their gradients stay OIHW. Every kernel also takes a scalar zero (what a
 * dilated kernel is stuffed with) so that the graph is shared by every value of the dtype. Inputs
 * are read by named position.
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfConvolutions {
  // the forward kernels' inputs
  private static final int X = 0;
  private static final int W = 1;
  private static final int ZERO = 2;
  private static final int BIAS = 3;
  // the backward kernels' inputs
  private static final int GRAD_OUT = 0;
  private static final int OPERAND = 1; // the weight for ∂L/∂x, the input for ∂L/∂w
  private static final int BACKWARD_ZERO = 2;
  // the two-gradient kernel's inputs
  private static final int BOTH_X = 0;
  private static final int BOTH_W = 1;
  private static final int BOTH_GRAD_OUT = 2;
  private static final int BOTH_ZERO = 3;

  private final TfKernelCache kernels;

  TfConvolutions(TfKernelCache kernels) {
    this.kernels = kernels;
  }

  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    return forward("conv2d", x, w, bias, spec, false);
  }

  /**
   * {@code relu(conv2d(x, w, bias))} as one graph: one session run instead of two, and the
   * pre-activation lives only inside TensorFlow's executor.
   */
  Tensor conv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    return forward("conv2dRelu", x, w, bias, spec, true);
  }

  private Tensor forward(
      String op, Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, boolean relu) {
    boolean hasBias = bias != null;
    List<Object> args = hasBias ? List.of(x, w, 0.0, bias) : List.of(x, w, 0.0);
    Shape inputShape = x.shape();
    Shape weightShape = w.shape();
    return kernels.runLayout(
        op,
        spec.toString(),
        args,
        (tf, in) -> {
          Operand y =
              TfConvolutionGraphs.forward(
                  tf,
                  in.nhwc(X),
                  in.nchw(W),
                  hasBias ? in.nchw(BIAS) : null,
                  inputShape,
                  weightShape,
                  spec,
                  in.nchw(ZERO));
          return List.of(relu ? tf.nn.relu(y) : y);
        },
        true);
  }

  /**
   * The gradients {@code args} asks for: one graph each, or one graph for both that reads the
   * upstream gradient once.
   */
  Conv2dGradients backward(Conv2dBackwardArgs args) {
    if (args.wantInput() && args.wantWeight()) {
      return bothGradients(args.x(), args.w(), args.gradOut(), args.spec());
    }
    if (args.wantInput()) {
      return new Conv2dGradients(
          inputGradient(args.gradOut(), args.w(), args.inputShape(), args.spec()), null);
    }
    return new Conv2dGradients(
        null, weightGradient(args.x(), args.gradOut(), args.weightShape(), args.spec()));
  }

  private Tensor inputGradient(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    Shape weightShape = w.shape();
    return kernels.runLayout(
        "conv2dBackwardInput",
        spec + inputShape.toString(),
        List.of(gradOut, w, 0.0),
        (tf, in) ->
            List.of(
                TfConvolutionGraphs.inputGradient(
                    tf,
                    in.nhwc(GRAD_OUT),
                    in.nchw(OPERAND),
                    weightShape,
                    inputShape,
                    spec,
                    in.nchw(BACKWARD_ZERO))),
        true);
  }

  private Tensor weightGradient(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    Shape inputShape = x.shape();
    return kernels.runLayout(
        "conv2dBackwardWeight",
        spec + weightShape.toString(),
        List.of(gradOut, x, 0.0),
        (tf, in) ->
            List.of(
                TfConvolutionGraphs.weightGradient(
                    tf,
                    in.nhwc(OPERAND),
                    in.nhwc(GRAD_OUT),
                    inputShape,
                    weightShape,
                    spec,
                    in.nchw(BACKWARD_ZERO))),
        false);
  }

  private Conv2dGradients bothGradients(Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec) {
    Shape inputShape = x.shape();
    Shape weightShape = w.shape();
    List<Tensor> both =
        kernels.runLayout(
            "conv2dBackward",
            spec.toString(),
            x.dtype(),
            List.of(x, w, gradOut, 0.0),
            (tf, in) -> {
              Operand gh = in.nhwc(BOTH_GRAD_OUT);
              Operand zero = in.nchw(BOTH_ZERO);
              return List.of(
                  TfConvolutionGraphs.inputGradient(
                      tf, gh, in.nchw(BOTH_W), weightShape, inputShape, spec, zero),
                  TfConvolutionGraphs.weightGradient(
                      tf, in.nhwc(BOTH_X), gh, inputShape, weightShape, spec, zero));
            },
            new boolean[] {true, false});
    return new Conv2dGradients(both.get(0), both.get(1));
  }
}
