package org.anode.cli.experiment;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.cli.Choices;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code anode experiment gradient-error}: ANODE's and the adjoint's gradient errors. */
@Command(
    name = "gradient-error",
    mixinStandardHelpOptions = true,
    description =
        "Relative gradient error of ANODE and the adjoint against store-all (float64), and the"
            + " z(0) reconstruction error, per field, solver and N_t.")
public final class GradientErrorCommand implements Callable<Integer> {
  @Option(
      names = "--families",
      defaultValue = "resnet,sqnxt,tanh",
      split = ",",
      description = "Fields: resnet, sqnxt, tanh (default: ${DEFAULT-VALUE})")
  List<String> families;

  @Option(
      names = "--solvers",
      defaultValue = "euler,rk2,rk4",
      split = ",",
      description = "Solvers (default: ${DEFAULT-VALUE})")
  List<String> solvers;

  @Option(
      names = "--nt",
      defaultValue = "1,2,4,8,16,32",
      split = ",",
      description = "Steps N_t (default: ${DEFAULT-VALUE})")
  List<Integer> steps;

  @Option(names = "--backend", description = "Backend (default: the best-ranked one)")
  String backend;

  @Option(
      names = "--out",
      defaultValue = "gradient-error",
      description = "Output folder for the CSV and PNGs (default: ${DEFAULT-VALUE})")
  Path out;

  @Override
  public Integer call() throws Exception {
    Backend be = backend == null ? Backends.get() : Backends.get(backend);
    int[] nt = steps.stream().mapToInt(Integer::intValue).toArray();
    List<GradientErrorStudy.Row> rows = new ArrayList<>();
    System.out.printf(
        "%-7s %-15s %4s  %-12s %-12s %-12s %-12s %-12s %-12s %-12s%n",
        "field",
        "solver",
        "N_t",
        "anode dz0",
        "anode dθ",
        "adjoint dz0",
        "adjoint dθ",
        "revers. dz0",
        "revers. dθ",
        "z0 rebuilt");
    for (String family : families) {
      for (String s : solvers) {
        for (GradientErrorStudy.Row r :
            GradientErrorStudy.run(be, family, s, Choices.solver(s), nt)) {
          rows.add(r);
          System.out.printf(
              Locale.ROOT,
              "%-7s %-15s %4d  %-12.3e %-12.3e %-12.3e %-12.3e %-12.3e %-12.3e %-12.3e%n",
              r.family(),
              r.solver(),
              r.steps(),
              r.anodeInput(),
              r.anodeParams(),
              r.adjointInput(),
              r.adjointParams(),
              r.reversibleInput(),
              r.reversibleParams(),
              r.reconstruction());
        }
      }
    }
    Files.createDirectories(out);
    List<String> csv = new ArrayList<>();
    csv.add(
        "field,solver,nt,anode_input_error,anode_param_error,adjoint_input_error,adjoint_param_error,reversible_input_error,reversible_param_error,z0_reconstruction_error");
    for (GradientErrorStudy.Row r : rows) {
      csv.add(
          String.format(
              Locale.ROOT,
              "%s,%s,%d,%.6e,%.6e,%.6e,%.6e,%s,%s,%.6e",
              r.family(),
              r.solver(),
              r.steps(),
              r.anodeInput(),
              r.anodeParams(),
              r.adjointInput(),
              r.adjointParams(),
              orEmpty(r.reversibleInput()),
              orEmpty(r.reversibleParams()),
              r.reconstruction()));
    }
    Files.write(out.resolve("gradient-error.csv"), csv);
    for (String family : families) {
      List<Charts.Series> series = new ArrayList<>();
      Map<String, List<GradientErrorStudy.Row>> bySolver = new LinkedHashMap<>();
      for (GradientErrorStudy.Row r : rows) {
        if (r.family().equals(family)) {
          bySolver.computeIfAbsent(r.solver(), k -> new ArrayList<>()).add(r);
        }
      }
      for (var e : bySolver.entrySet()) {
        double[] x = e.getValue().stream().mapToDouble(GradientErrorStudy.Row::steps).toArray();
        // A log axis cannot show 0: ANODE's error is often exactly 0, drawn at 1e-17.
        series.add(
            new Charts.Series(
                "adjoint " + e.getKey(),
                x,
                e.getValue().stream()
                    .mapToDouble(r -> floor(Math.max(r.adjointInput(), r.adjointParams())))
                    .toArray()));
        series.add(
            new Charts.Series(
                "anode " + e.getKey(),
                x,
                e.getValue().stream()
                    .mapToDouble(r -> floor(Math.max(r.anodeInput(), r.anodeParams())))
                    .toArray()));
        if (!Double.isNaN(e.getValue().get(0).reversibleInput())) {
          series.add(
              new Charts.Series(
                  "reversible " + e.getKey(),
                  x,
                  e.getValue().stream()
                      .mapToDouble(r -> floor(Math.max(r.reversibleInput(), r.reversibleParams())))
                      .toArray()));
        }
      }
      Charts.lines(
          out.resolve("gradient-error-" + family + ".png"),
          "Gradient error vs store-all, " + family + " field (float64)",
          "N_t",
          "relative error (max of dz0, dθ)",
          true,
          true,
          series);
    }
    System.out.println("wrote " + out.resolve("gradient-error.csv") + " and one PNG per field");
    return 0;
  }

  /** A CSV field: empty where the measurement does not apply (not a reversible solver). */
  static String orEmpty(double v) {
    return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6e", v);
  }

  static double floor(double v) {
    return Math.max(v, 1e-17);
  }
}
