package org.anode.cli.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** PNG charts of the experiments, drawn with XChart. */
public final class Charts {
  /** Width and height of every chart, in pixels. */
  public static final int WIDTH = 900;

  public static final int HEIGHT = 600;

  private Charts() {}

  /** One series of a line chart. */
  public record Series(String name, double[] x, double[] y) {}

  /** A line chart; logarithmic axes where asked. */
  public static void lines(
      Path png,
      String title,
      String xTitle,
      String yTitle,
      boolean logX,
      boolean logY,
      List<Series> series)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(xTitle)
            .yAxisTitle(yTitle)
            .build();
    chart.getStyler().setXAxisLogarithmic(logX);
    chart.getStyler().setYAxisLogarithmic(logY);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
    for (Series s : series) {
      chart.addSeries(s.name(), s.x(), s.y());
    }
    save(png, chart);
  }

  /** A bar chart: one group per category, one bar per series. */
  public static void bars(
      Path png,
      String title,
      String yTitle,
      List<String> categories,
      Map<String, List<Double>> series)
      throws IOException {
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .yAxisTitle(yTitle)
            .build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
    chart.getStyler().setXAxisLabelRotation(20);
    for (var e : series.entrySet()) {
      chart.addSeries(e.getKey(), categories, e.getValue());
    }
    save(png, chart);
  }

  private static void save(Path png, org.knowm.xchart.internal.chartpart.Chart<?, ?> chart)
      throws IOException {
    if (png.toAbsolutePath().getParent() != null) {
      Files.createDirectories(png.toAbsolutePath().getParent());
    }
    String name = png.toString();
    String base = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
  }
}
