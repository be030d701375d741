"""Policy analyses on fitted RIMA-II models: shocks, panels, scenarios and targeting.

    from rima.analysis.shocks import shocks        # RimaResult.shocks(...) calls this
    from rima.analysis.panel import panel
    from rima.analysis.scenario import scenario, sensitivity, load_scenarios
    from rima.analysis.targeting import target

Each takes a fitted result (`rima.fit`) or a saved model (`rima.load`) plus data; all
regressions are survey-weighted with soum-clustered standard errors
(`rima.analysis.regression`), and classes come from `rima.classes`. The functions are not
re-exported here because three of them share their module's name.
"""
