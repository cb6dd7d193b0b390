"""Figures for the book. Every `plot_*` returns a matplotlib Figure; `save_fig` writes it.

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so nothing
accumulates in a global figure list; in a notebook, end the cell with the figure
to show it.

The figures live in modules by subject (`images`, `training`, `latent`, `comparisons`,
`search`, `shootout`, `pareto`); every public name is importable from `lab.plots` itself. Each search figure
draws what a `*_data` function computes (`parallel_coordinates_data`, ...), so its numbers
can be checked without drawing.
"""

from lab.plots._base import DPI, objective_direction, save_fig, set_figures_dir, use_book_style
from lab.plots.comparisons import (
    plot_denoising_gain,
    plot_grouped_bars,
    plot_heatmap,
    plot_latent_size_tradeoff,
    plot_roc,
    plot_score_histograms,
    plot_sweep,
    plot_tradeoff,
)
from lab.plots.distributed import plot_worker_timeline
from lab.plots.images import (
    plot_images,
    plot_latent_grid,
    plot_pixel_statistics,
    plot_reconstructions,
    plot_samples,
)
from lab.plots.latent import (
    plot_codes_and_prior,
    plot_latent_2d,
    plot_latent_tsne,
    plot_latent_umap,
    plot_rate_distortion,
    plot_unit_kl,
    tsne_embedding,
    umap_embedding,
)
from lab.plots.pareto import (
    plot_front_projections,
    plot_hypervolume,
    plot_probe_by_code_size,
    plot_rate_distortion_front,
)
from lab.plots.search import (
    hyperband_schedule_data,
    objective_vs_params_data,
    parallel_coordinates_data,
    plot_best_so_far,
    plot_hyperband_schedule,
    plot_objective_vs_params,
    plot_parallel_coordinates,
    plot_surrogate,
    plot_top_reconstructions,
    surrogate_data,
)
from lab.plots.shootout import (
    plot_budget_timeline,
    plot_importance,
    plot_mean_ranks,
    plot_shootout_curves,
    plot_winners,
)
from lab.plots.training import plot_loss_curves, plot_metrics

__all__ = [
    "plot_worker_timeline",
    "plot_shootout_curves",
    "plot_mean_ranks",
    "plot_winners",
    "plot_importance",
    "plot_budget_timeline",
    "plot_front_projections",
    "plot_hypervolume",
    "plot_probe_by_code_size",
    "plot_rate_distortion_front",
    "DPI",
    "use_book_style",
    "set_figures_dir",
    "save_fig",
    "objective_direction",
    "plot_images",
    "plot_samples",
    "plot_reconstructions",
    "plot_pixel_statistics",
    "plot_latent_grid",
    "plot_loss_curves",
    "plot_metrics",
    "plot_latent_2d",
    "umap_embedding",
    "tsne_embedding",
    "plot_latent_tsne",
    "plot_latent_umap",
    "plot_codes_and_prior",
    "plot_unit_kl",
    "plot_rate_distortion",
    "plot_latent_size_tradeoff",
    "plot_sweep",
    "plot_heatmap",
    "plot_grouped_bars",
    "plot_tradeoff",
    "plot_denoising_gain",
    "plot_score_histograms",
    "plot_roc",
    "plot_best_so_far",
    "plot_parallel_coordinates",
    "plot_objective_vs_params",
    "plot_top_reconstructions",
    "plot_surrogate",
    "plot_hyperband_schedule",
    "parallel_coordinates_data",
    "objective_vs_params_data",
    "surrogate_data",
    "hyperband_schedule_data",
]
