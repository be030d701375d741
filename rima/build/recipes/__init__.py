"""Recipe implementations: `RECIPE_FUNCTIONS[name](ctx, recipe, status) -> values (n,)`.

A recipe reads its sources through the build context, flags every household whose value
it cannot build (the engine then blanks that value) and returns one value per household.
"""

from rima.build.recipes import assets, food, livestock, money, roster, transforms

RECIPE_FUNCTIONS = {
    **food.RECIPES, **livestock.RECIPES, **roster.RECIPES, **money.RECIPES, **assets.RECIPES,
    **transforms.RECIPES,
}
