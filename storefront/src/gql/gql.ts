/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment UserErrorFields on UserError {\n    code\n    field\n    message\n  }\n": typeof types.UserErrorFieldsFragmentDoc,
    "\n  fragment SessionUserFields on User {\n    id\n    name\n    email\n    role\n  }\n": typeof types.SessionUserFieldsFragmentDoc,
    "\n  query Search($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {\n    search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      facets {\n        field\n        values {\n          value\n          count\n        }\n      }\n      nodes {\n        highlights {\n          field\n          snippet\n        }\n        product {\n          id\n          name\n          brand\n          category\n          imageUrl\n          price {\n            amount\n            currency\n          }\n          priceRange {\n            min {\n              amount\n            }\n            max {\n              amount\n            }\n          }\n          stock {\n            available\n          }\n        }\n      }\n    }\n  }\n": typeof types.SearchDocument,
    "\n  query Product($id: ID!) {\n    product(id: $id) {\n      id\n      sku\n      name\n      description\n      brand\n      category\n      imageUrl\n      price {\n        amount\n        currency\n      }\n      attributes {\n        name\n        value\n      }\n      stock {\n        available\n        inStock\n      }\n      priceRange {\n        min {\n          amount\n          currency\n        }\n        max {\n          amount\n          currency\n        }\n      }\n      options {\n        name\n        values\n      }\n      variants {\n        id\n        sku\n        title\n        price {\n          amount\n          currency\n        }\n        compareAtPrice {\n          amount\n          currency\n        }\n        selectedOptions {\n          name\n          value\n        }\n        stock {\n          available\n        }\n      }\n    }\n  }\n": typeof types.ProductDocument,
    "\n  query VariantStock($id: ID!) {\n    variant(id: $id) {\n      id\n      stock {\n        available\n        inStock\n      }\n    }\n  }\n": typeof types.VariantStockDocument,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.VerifyEmailDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken) {\n      ok\n    }\n  }\n": typeof types.LogoutDocument,
    "\n  query Cart {\n    cart {\n      ...CartFields\n    }\n  }\n": typeof types.CartDocument,
    "\n  fragment CartFields on Cart {\n    subtotal {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    availableShippingMethods {\n      id\n      name\n      estimatedDays\n      price {\n        amount\n        currency\n      }\n    }\n    shippingMethod {\n      id\n    }\n    discounts {\n      code\n      amount {\n        amount\n        currency\n      }\n    }\n    shippingTotal {\n      amount\n      currency\n    }\n    taxLines {\n      name\n      rate\n      amount {\n        amount\n        currency\n      }\n    }\n    taxTotal {\n      amount\n      currency\n    }\n    total {\n      amount\n      currency\n    }\n    pricesIncludeTax\n    items {\n      quantity\n      lineTotal {\n        amount\n        currency\n      }\n      product {\n        id\n        name\n        imageUrl\n      }\n      variant {\n        id\n        title\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n": typeof types.CartFieldsFragmentDoc,
    "\n  mutation AddToCart($variantId: ID!, $quantity: Int!) {\n    addToCart(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.AddToCartDocument,
    "\n  mutation UpdateCartItem($variantId: ID!, $quantity: Int!) {\n    updateCartItem(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.UpdateCartItemDocument,
    "\n  mutation SetCartShippingAddress($address: AddressInput!) {\n    setCartShippingAddress(address: $address) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.SetCartShippingAddressDocument,
    "\n  mutation SetCartShippingMethod($id: ID!) {\n    setCartShippingMethod(shippingMethodId: $id) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.SetCartShippingMethodDocument,
    "\n  mutation ApplyDiscountCode($code: String!) {\n    applyDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.ApplyDiscountCodeDocument,
    "\n  mutation RemoveDiscountCode($code: String!) {\n    removeDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.RemoveDiscountCodeDocument,
    "\n  mutation Checkout($input: CheckoutInput!) {\n    checkout(input: $input) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.CheckoutDocument,
    "\n  fragment OrderFields on Order {\n    id\n    status\n    statusReason\n    createdAt\n    total {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    items {\n      productName\n      variantTitle\n      sku\n      quantity\n      unitPrice {\n        amount\n        currency\n      }\n      lineTotal {\n        amount\n        currency\n      }\n    }\n    history {\n      status\n      previousStatus\n      reason\n      at\n    }\n    payment {\n      status\n      failureReason\n    }\n  }\n": typeof types.OrderFieldsFragmentDoc,
    "\n  query Order($id: ID!) {\n    order(id: $id) {\n      ...OrderFields\n    }\n  }\n": typeof types.OrderDocument,
    "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      orderId\n      status\n      previousStatus\n      reason\n      at\n    }\n  }\n": typeof types.OrderStatusDocument,
    "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      order {\n        ...OrderFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.CancelOrderDocument,
    "\n  query Orders($first: Int, $after: String, $status: OrderStatus) {\n    orders(first: $first, after: $after, status: $status) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        id\n        status\n        createdAt\n        total {\n          amount\n          currency\n        }\n        customer {\n          id\n        }\n      }\n    }\n  }\n": typeof types.OrdersDocument,
    "\n  mutation ShipOrder($id: ID!) {\n    shipOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.ShipOrderDocument,
    "\n  mutation DeliverOrder($id: ID!) {\n    deliverOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.DeliverOrderDocument,
    "\n  mutation SetVariantStock($variantId: ID!, $onHand: Int!) {\n    setVariantStock(variantId: $variantId, onHand: $onHand) {\n      productId\n      stock {\n        available\n        onHand\n        reserved\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.SetVariantStockDocument,
    "\n  query AdminStock($query: String!) {\n    search(query: $query, first: 10) {\n      nodes {\n        product {\n          id\n          name\n          variants {\n            id\n            sku\n            title\n            stock {\n              available\n              onHand\n              reserved\n            }\n          }\n        }\n      }\n    }\n  }\n": typeof types.AdminStockDocument,
    "\n  query Notifications {\n    notifications(first: 20) {\n      totalCount\n      nodes {\n        id\n        kind\n        title\n        body\n        orderId\n        read\n        createdAt\n      }\n    }\n  }\n": typeof types.NotificationsDocument,
    "\n  query UnreadCount {\n    notifications(first: 1, unreadOnly: true) {\n      totalCount\n    }\n  }\n": typeof types.UnreadCountDocument,
    "\n  mutation MarkRead($id: ID!) {\n    markNotificationRead(id: $id) {\n      notification {\n        id\n        read\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": typeof types.MarkReadDocument,
};
const documents: Documents = {
    "\n  fragment UserErrorFields on UserError {\n    code\n    field\n    message\n  }\n": types.UserErrorFieldsFragmentDoc,
    "\n  fragment SessionUserFields on User {\n    id\n    name\n    email\n    role\n  }\n": types.SessionUserFieldsFragmentDoc,
    "\n  query Search($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {\n    search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      facets {\n        field\n        values {\n          value\n          count\n        }\n      }\n      nodes {\n        highlights {\n          field\n          snippet\n        }\n        product {\n          id\n          name\n          brand\n          category\n          imageUrl\n          price {\n            amount\n            currency\n          }\n          priceRange {\n            min {\n              amount\n            }\n            max {\n              amount\n            }\n          }\n          stock {\n            available\n          }\n        }\n      }\n    }\n  }\n": types.SearchDocument,
    "\n  query Product($id: ID!) {\n    product(id: $id) {\n      id\n      sku\n      name\n      description\n      brand\n      category\n      imageUrl\n      price {\n        amount\n        currency\n      }\n      attributes {\n        name\n        value\n      }\n      stock {\n        available\n        inStock\n      }\n      priceRange {\n        min {\n          amount\n          currency\n        }\n        max {\n          amount\n          currency\n        }\n      }\n      options {\n        name\n        values\n      }\n      variants {\n        id\n        sku\n        title\n        price {\n          amount\n          currency\n        }\n        compareAtPrice {\n          amount\n          currency\n        }\n        selectedOptions {\n          name\n          value\n        }\n        stock {\n          available\n        }\n      }\n    }\n  }\n": types.ProductDocument,
    "\n  query VariantStock($id: ID!) {\n    variant(id: $id) {\n      id\n      stock {\n        available\n        inStock\n      }\n    }\n  }\n": types.VariantStockDocument,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.RegisterDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.VerifyEmailDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken) {\n      ok\n    }\n  }\n": types.LogoutDocument,
    "\n  query Cart {\n    cart {\n      ...CartFields\n    }\n  }\n": types.CartDocument,
    "\n  fragment CartFields on Cart {\n    subtotal {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    availableShippingMethods {\n      id\n      name\n      estimatedDays\n      price {\n        amount\n        currency\n      }\n    }\n    shippingMethod {\n      id\n    }\n    discounts {\n      code\n      amount {\n        amount\n        currency\n      }\n    }\n    shippingTotal {\n      amount\n      currency\n    }\n    taxLines {\n      name\n      rate\n      amount {\n        amount\n        currency\n      }\n    }\n    taxTotal {\n      amount\n      currency\n    }\n    total {\n      amount\n      currency\n    }\n    pricesIncludeTax\n    items {\n      quantity\n      lineTotal {\n        amount\n        currency\n      }\n      product {\n        id\n        name\n        imageUrl\n      }\n      variant {\n        id\n        title\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n": types.CartFieldsFragmentDoc,
    "\n  mutation AddToCart($variantId: ID!, $quantity: Int!) {\n    addToCart(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.AddToCartDocument,
    "\n  mutation UpdateCartItem($variantId: ID!, $quantity: Int!) {\n    updateCartItem(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.UpdateCartItemDocument,
    "\n  mutation SetCartShippingAddress($address: AddressInput!) {\n    setCartShippingAddress(address: $address) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.SetCartShippingAddressDocument,
    "\n  mutation SetCartShippingMethod($id: ID!) {\n    setCartShippingMethod(shippingMethodId: $id) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.SetCartShippingMethodDocument,
    "\n  mutation ApplyDiscountCode($code: String!) {\n    applyDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.ApplyDiscountCodeDocument,
    "\n  mutation RemoveDiscountCode($code: String!) {\n    removeDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.RemoveDiscountCodeDocument,
    "\n  mutation Checkout($input: CheckoutInput!) {\n    checkout(input: $input) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.CheckoutDocument,
    "\n  fragment OrderFields on Order {\n    id\n    status\n    statusReason\n    createdAt\n    total {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    items {\n      productName\n      variantTitle\n      sku\n      quantity\n      unitPrice {\n        amount\n        currency\n      }\n      lineTotal {\n        amount\n        currency\n      }\n    }\n    history {\n      status\n      previousStatus\n      reason\n      at\n    }\n    payment {\n      status\n      failureReason\n    }\n  }\n": types.OrderFieldsFragmentDoc,
    "\n  query Order($id: ID!) {\n    order(id: $id) {\n      ...OrderFields\n    }\n  }\n": types.OrderDocument,
    "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      orderId\n      status\n      previousStatus\n      reason\n      at\n    }\n  }\n": types.OrderStatusDocument,
    "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      order {\n        ...OrderFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.CancelOrderDocument,
    "\n  query Orders($first: Int, $after: String, $status: OrderStatus) {\n    orders(first: $first, after: $after, status: $status) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        id\n        status\n        createdAt\n        total {\n          amount\n          currency\n        }\n        customer {\n          id\n        }\n      }\n    }\n  }\n": types.OrdersDocument,
    "\n  mutation ShipOrder($id: ID!) {\n    shipOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.ShipOrderDocument,
    "\n  mutation DeliverOrder($id: ID!) {\n    deliverOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.DeliverOrderDocument,
    "\n  mutation SetVariantStock($variantId: ID!, $onHand: Int!) {\n    setVariantStock(variantId: $variantId, onHand: $onHand) {\n      productId\n      stock {\n        available\n        onHand\n        reserved\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.SetVariantStockDocument,
    "\n  query AdminStock($query: String!) {\n    search(query: $query, first: 10) {\n      nodes {\n        product {\n          id\n          name\n          variants {\n            id\n            sku\n            title\n            stock {\n              available\n              onHand\n              reserved\n            }\n          }\n        }\n      }\n    }\n  }\n": types.AdminStockDocument,
    "\n  query Notifications {\n    notifications(first: 20) {\n      totalCount\n      nodes {\n        id\n        kind\n        title\n        body\n        orderId\n        read\n        createdAt\n      }\n    }\n  }\n": types.NotificationsDocument,
    "\n  query UnreadCount {\n    notifications(first: 1, unreadOnly: true) {\n      totalCount\n    }\n  }\n": types.UnreadCountDocument,
    "\n  mutation MarkRead($id: ID!) {\n    markNotificationRead(id: $id) {\n      notification {\n        id\n        read\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n": types.MarkReadDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment UserErrorFields on UserError {\n    code\n    field\n    message\n  }\n"): (typeof documents)["\n  fragment UserErrorFields on UserError {\n    code\n    field\n    message\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment SessionUserFields on User {\n    id\n    name\n    email\n    role\n  }\n"): (typeof documents)["\n  fragment SessionUserFields on User {\n    id\n    name\n    email\n    role\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Search($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {\n    search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      facets {\n        field\n        values {\n          value\n          count\n        }\n      }\n      nodes {\n        highlights {\n          field\n          snippet\n        }\n        product {\n          id\n          name\n          brand\n          category\n          imageUrl\n          price {\n            amount\n            currency\n          }\n          priceRange {\n            min {\n              amount\n            }\n            max {\n              amount\n            }\n          }\n          stock {\n            available\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Search($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {\n    search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      facets {\n        field\n        values {\n          value\n          count\n        }\n      }\n      nodes {\n        highlights {\n          field\n          snippet\n        }\n        product {\n          id\n          name\n          brand\n          category\n          imageUrl\n          price {\n            amount\n            currency\n          }\n          priceRange {\n            min {\n              amount\n            }\n            max {\n              amount\n            }\n          }\n          stock {\n            available\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Product($id: ID!) {\n    product(id: $id) {\n      id\n      sku\n      name\n      description\n      brand\n      category\n      imageUrl\n      price {\n        amount\n        currency\n      }\n      attributes {\n        name\n        value\n      }\n      stock {\n        available\n        inStock\n      }\n      priceRange {\n        min {\n          amount\n          currency\n        }\n        max {\n          amount\n          currency\n        }\n      }\n      options {\n        name\n        values\n      }\n      variants {\n        id\n        sku\n        title\n        price {\n          amount\n          currency\n        }\n        compareAtPrice {\n          amount\n          currency\n        }\n        selectedOptions {\n          name\n          value\n        }\n        stock {\n          available\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Product($id: ID!) {\n    product(id: $id) {\n      id\n      sku\n      name\n      description\n      brand\n      category\n      imageUrl\n      price {\n        amount\n        currency\n      }\n      attributes {\n        name\n        value\n      }\n      stock {\n        available\n        inStock\n      }\n      priceRange {\n        min {\n          amount\n          currency\n        }\n        max {\n          amount\n          currency\n        }\n      }\n      options {\n        name\n        values\n      }\n      variants {\n        id\n        sku\n        title\n        price {\n          amount\n          currency\n        }\n        compareAtPrice {\n          amount\n          currency\n        }\n        selectedOptions {\n          name\n          value\n        }\n        stock {\n          available\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query VariantStock($id: ID!) {\n    variant(id: $id) {\n      id\n      stock {\n        available\n        inStock\n      }\n    }\n  }\n"): (typeof documents)["\n  query VariantStock($id: ID!) {\n    variant(id: $id) {\n      id\n      stock {\n        available\n        inStock\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token) {\n      ok\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refresh($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Refresh($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      accessToken\n      refreshToken\n      user {\n        ...SessionUserFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken) {\n      ok\n    }\n  }\n"): (typeof documents)["\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken) {\n      ok\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Cart {\n    cart {\n      ...CartFields\n    }\n  }\n"): (typeof documents)["\n  query Cart {\n    cart {\n      ...CartFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CartFields on Cart {\n    subtotal {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    availableShippingMethods {\n      id\n      name\n      estimatedDays\n      price {\n        amount\n        currency\n      }\n    }\n    shippingMethod {\n      id\n    }\n    discounts {\n      code\n      amount {\n        amount\n        currency\n      }\n    }\n    shippingTotal {\n      amount\n      currency\n    }\n    taxLines {\n      name\n      rate\n      amount {\n        amount\n        currency\n      }\n    }\n    taxTotal {\n      amount\n      currency\n    }\n    total {\n      amount\n      currency\n    }\n    pricesIncludeTax\n    items {\n      quantity\n      lineTotal {\n        amount\n        currency\n      }\n      product {\n        id\n        name\n        imageUrl\n      }\n      variant {\n        id\n        title\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  fragment CartFields on Cart {\n    subtotal {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    availableShippingMethods {\n      id\n      name\n      estimatedDays\n      price {\n        amount\n        currency\n      }\n    }\n    shippingMethod {\n      id\n    }\n    discounts {\n      code\n      amount {\n        amount\n        currency\n      }\n    }\n    shippingTotal {\n      amount\n      currency\n    }\n    taxLines {\n      name\n      rate\n      amount {\n        amount\n        currency\n      }\n    }\n    taxTotal {\n      amount\n      currency\n    }\n    total {\n      amount\n      currency\n    }\n    pricesIncludeTax\n    items {\n      quantity\n      lineTotal {\n        amount\n        currency\n      }\n      product {\n        id\n        name\n        imageUrl\n      }\n      variant {\n        id\n        title\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddToCart($variantId: ID!, $quantity: Int!) {\n    addToCart(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation AddToCart($variantId: ID!, $quantity: Int!) {\n    addToCart(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateCartItem($variantId: ID!, $quantity: Int!) {\n    updateCartItem(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateCartItem($variantId: ID!, $quantity: Int!) {\n    updateCartItem(variantId: $variantId, quantity: $quantity) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetCartShippingAddress($address: AddressInput!) {\n    setCartShippingAddress(address: $address) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SetCartShippingAddress($address: AddressInput!) {\n    setCartShippingAddress(address: $address) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetCartShippingMethod($id: ID!) {\n    setCartShippingMethod(shippingMethodId: $id) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SetCartShippingMethod($id: ID!) {\n    setCartShippingMethod(shippingMethodId: $id) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApplyDiscountCode($code: String!) {\n    applyDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ApplyDiscountCode($code: String!) {\n    applyDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveDiscountCode($code: String!) {\n    removeDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation RemoveDiscountCode($code: String!) {\n    removeDiscountCode(code: $code) {\n      cart {\n        ...CartFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Checkout($input: CheckoutInput!) {\n    checkout(input: $input) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Checkout($input: CheckoutInput!) {\n    checkout(input: $input) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment OrderFields on Order {\n    id\n    status\n    statusReason\n    createdAt\n    total {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    items {\n      productName\n      variantTitle\n      sku\n      quantity\n      unitPrice {\n        amount\n        currency\n      }\n      lineTotal {\n        amount\n        currency\n      }\n    }\n    history {\n      status\n      previousStatus\n      reason\n      at\n    }\n    payment {\n      status\n      failureReason\n    }\n  }\n"): (typeof documents)["\n  fragment OrderFields on Order {\n    id\n    status\n    statusReason\n    createdAt\n    total {\n      amount\n      currency\n    }\n    shippingAddress {\n      line1\n      line2\n      city\n      postalCode\n      country\n    }\n    items {\n      productName\n      variantTitle\n      sku\n      quantity\n      unitPrice {\n        amount\n        currency\n      }\n      lineTotal {\n        amount\n        currency\n      }\n    }\n    history {\n      status\n      previousStatus\n      reason\n      at\n    }\n    payment {\n      status\n      failureReason\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Order($id: ID!) {\n    order(id: $id) {\n      ...OrderFields\n    }\n  }\n"): (typeof documents)["\n  query Order($id: ID!) {\n    order(id: $id) {\n      ...OrderFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      orderId\n      status\n      previousStatus\n      reason\n      at\n    }\n  }\n"): (typeof documents)["\n  subscription OrderStatus($orderId: ID!) {\n    orderStatusChanged(orderId: $orderId) {\n      orderId\n      status\n      previousStatus\n      reason\n      at\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      order {\n        ...OrderFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      order {\n        ...OrderFields\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Orders($first: Int, $after: String, $status: OrderStatus) {\n    orders(first: $first, after: $after, status: $status) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        id\n        status\n        createdAt\n        total {\n          amount\n          currency\n        }\n        customer {\n          id\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Orders($first: Int, $after: String, $status: OrderStatus) {\n    orders(first: $first, after: $after, status: $status) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        id\n        status\n        createdAt\n        total {\n          amount\n          currency\n        }\n        customer {\n          id\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ShipOrder($id: ID!) {\n    shipOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ShipOrder($id: ID!) {\n    shipOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeliverOrder($id: ID!) {\n    deliverOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation DeliverOrder($id: ID!) {\n    deliverOrder(id: $id) {\n      order {\n        id\n        status\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetVariantStock($variantId: ID!, $onHand: Int!) {\n    setVariantStock(variantId: $variantId, onHand: $onHand) {\n      productId\n      stock {\n        available\n        onHand\n        reserved\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SetVariantStock($variantId: ID!, $onHand: Int!) {\n    setVariantStock(variantId: $variantId, onHand: $onHand) {\n      productId\n      stock {\n        available\n        onHand\n        reserved\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AdminStock($query: String!) {\n    search(query: $query, first: 10) {\n      nodes {\n        product {\n          id\n          name\n          variants {\n            id\n            sku\n            title\n            stock {\n              available\n              onHand\n              reserved\n            }\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query AdminStock($query: String!) {\n    search(query: $query, first: 10) {\n      nodes {\n        product {\n          id\n          name\n          variants {\n            id\n            sku\n            title\n            stock {\n              available\n              onHand\n              reserved\n            }\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Notifications {\n    notifications(first: 20) {\n      totalCount\n      nodes {\n        id\n        kind\n        title\n        body\n        orderId\n        read\n        createdAt\n      }\n    }\n  }\n"): (typeof documents)["\n  query Notifications {\n    notifications(first: 20) {\n      totalCount\n      nodes {\n        id\n        kind\n        title\n        body\n        orderId\n        read\n        createdAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query UnreadCount {\n    notifications(first: 1, unreadOnly: true) {\n      totalCount\n    }\n  }\n"): (typeof documents)["\n  query UnreadCount {\n    notifications(first: 1, unreadOnly: true) {\n      totalCount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkRead($id: ID!) {\n    markNotificationRead(id: $id) {\n      notification {\n        id\n        read\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation MarkRead($id: ID!) {\n    markNotificationRead(id: $id) {\n      notification {\n        id\n        read\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;