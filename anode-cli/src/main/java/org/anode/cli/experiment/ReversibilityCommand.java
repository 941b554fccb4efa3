package org.anode.cli.experiment;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.ParameterFactory;
import org.anode.ode.AsynchronousLeapfrog;
import org.anode.ode.OdeBlock;
import org.anode.ode.ReversibleGradient;
import org.anode.ode.ReversibleHeun;
import org.anode.ode.ReversibleSolver;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code anode experiment reversibility}: how exactly the reversible solvers rebuild z(0) from the
 * block's output, against N_t, the damping η of ALF and the dtype. The reversible gradient is exact
 * for the trajectory the inverse rebuilds; this error says how far that is from the forward one.
 */
@Command(
    name = "reversibility",
    mixinStandardHelpOptions = true,
    description =
        "z(0) rebuilt by the inverse steps of ALF (per damping η) and reversible Heun, relative"
            + " error against N_t, in float32 and float64.")
public final class ReversibilityCommand implements Callable<Integer> {
  @Option(
      names = "--family",
      defaultValue = "resnet",
      description = "Field: resnet, sqnxt or tanh (default: ${DEFAULT-VALUE})")
  String family;

  @Option(
      names = "--etas",
      defaultValue = "1.0,0.9,0.75,0.25",
      split = ",",
      description = "Dampings η of ALF (default: ${DEFAULT-VALUE})")
  List<Double> etas;

  @Option(
      names = "--nt",
      defaultValue = "1,2,4,8,16,32,64",
      split = ",",
      description = "Steps N_t (default: ${DEFAULT-VALUE})")
  List<Integer> steps;

  @Option(names = "--backend", description = "Backend (default: the best-ranked one)")
  String backend;

  @Option(
      names = "--out",
      defaultValue = "reversibility",
      description = "Output folder for the CSV and PNG (default: ${DEFAULT-VALUE})")
  Path out;

  /** One measurement. */
  record Row(String solver, String dtype, int steps, double error) {}

  @Override
  public Integer call() throws Exception {
    Backend be = backend == null ? Backends.get() : Backends.get(backend);
    List<ReversibleSolver> solvers = new ArrayList<>();
    for (double eta : etas) {
      solvers.add(new AsynchronousLeapfrog(eta));
    }
    solvers.add(new ReversibleHeun());
    List<Row> rows = new ArrayList<>();
    System.out.printf("%-16s %-8s %4s  %s%n", "solver", "dtype", "N_t", "z0 rebuilt (relative)");
    for (DType dtype : DType.values()) {
      for (ReversibleSolver solver : solvers) {
        for (int n : steps) {
          double err = rebuild(be, dtype, solver, n);
          rows.add(new Row(solver.name(), dtype.name().toLowerCase(Locale.ROOT), n, err));
          System.out.printf(
              Locale.ROOT,
              "%-16s %-8s %4d  %.3e%n",
              solver.name(),
              rows.get(rows.size() - 1).dtype(),
              n,
              err);
        }
      }
    }
    Files.createDirectories(out);
    List<String> csv = new ArrayList<>();
    csv.add("solver,dtype,nt,z0_reconstruction_error");
    for (Row r : rows) {
      csv.add(
          String.format(Locale.ROOT, "%s,%s,%d,%.6e", r.solver(), r.dtype(), r.steps(), r.error()));
    }
    Files.write(out.resolve("reversibility.csv"), csv);
    List<Charts.Series> series = new ArrayList<>();
    for (Row first : rows) {
      String name = first.solver() + " " + first.dtype();
      if (series.stream().anyMatch(s -> s.name().equals(name))) {
        continue;
      }
      List<Row> mine =
          rows.stream()
              .filter(r -> r.solver().equals(first.solver()) && r.dtype().equals(first.dtype()))
              .toList();
      series.add(
          new Charts.Series(
              name,
              mine.stream().mapToDouble(Row::steps).toArray(),
              mine.stream().mapToDouble(r -> Math.max(r.error(), 1e-17)).toArray()));
    }
    Charts.lines(
        out.resolve("reversibility.png"),
        "z(0) rebuilt by the inverse steps, " + family + " field",
        "N_t",
        "relative error",
        true,
        true,
        series);
    System.out.println("wrote " + out.resolve("reversibility.csv") + " and reversibility.png");
    return 0;
  }

  /** The relative error of z(0) rebuilt after N_t steps forward and N_t inverse steps. */
  private double rebuild(Backend be, DType dtype, ReversibleSolver solver, int n) {
    try (TensorScope scope = TensorScope.open()) {
      ParameterFactory f = new ParameterFactory(be, dtype, 31);
      OdeBlock block =
          new OdeBlock(
              VectorField.autonomous(GradientErrorStudy.field(family, f)),
              solver,
              0,
              1,
              Stepping.fixed(n),
              new ReversibleGradient());
      Tensor x = GradientErrorStudy.random(be, 1, Shape.of(2, GradientErrorStudy.CHANNELS, 8, 8));
      if (dtype != DType.FLOAT64) {
        x = be.cast(x, dtype);
      }
      double err = GradientErrorStudy.reconstruction(block, x);
      block.close();
      return err;
    }
  }
}
