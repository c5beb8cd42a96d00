// Every GraphQL operation the storefront sends. graphql-codegen reads this file and types each
// document (src/gql/), so a field the schema does not have fails the build.
import { graphql } from "../gql";

// What every payload's userErrors and every session's user carry.
export const UserErrorFields = graphql(`
  fragment UserErrorFields on UserError {
    code
    field
    message
  }
`);

export const SessionUserFields = graphql(`
  fragment SessionUserFields on User {
    id
    name
    email
    role
  }
`);

export const SearchDocument = graphql(`
  query Search($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {
    search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      facets {
        field
        values {
          value
          count
        }
      }
      nodes {
        highlights {
          field
          snippet
        }
        product {
          id
          name
          brand
          category
          imageUrl
          price {
            amount
            currency
          }
          priceRange {
            min {
              amount
            }
            max {
              amount
            }
          }
          stock {
            available
          }
        }
      }
    }
  }
`);

export const ProductDocument = graphql(`
  query Product($id: ID!) {
    product(id: $id) {
      id
      sku
      name
      description
      brand
      category
      imageUrl
      price {
        amount
        currency
      }
      attributes {
        name
        value
      }
      stock {
        available
        inStock
      }
      priceRange {
        min {
          amount
          currency
        }
        max {
          amount
          currency
        }
      }
      options {
        name
        values
      }
      variants {
        id
        sku
        title
        price {
          amount
          currency
        }
        compareAtPrice {
          amount
          currency
        }
        selectedOptions {
          name
          value
        }
        stock {
          available
        }
      }
    }
  }
`);

export const VariantStockDocument = graphql(`
  query VariantStock($id: ID!) {
    variant(id: $id) {
      id
      stock {
        available
        inStock
      }
    }
  }
`);

export const LoginDocument = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      refreshToken
      user {
        ...SessionUserFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RegisterDocument = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      refreshToken
      user {
        ...SessionUserFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RequestPasswordResetDocument = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email) {
      ok
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ResetPasswordDocument = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword) {
      accessToken
      refreshToken
      user {
        ...SessionUserFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const VerifyEmailDocument = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token) {
      ok
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RefreshDocument = graphql(`
  mutation Refresh($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      refreshToken
      user {
        ...SessionUserFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const LogoutDocument = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken) {
      ok
    }
  }
`);

export const CartDocument = graphql(`
  query Cart {
    cart {
      ...CartFields
    }
  }
`);

export const CartFields = graphql(`
  fragment CartFields on Cart {
    subtotal {
      amount
      currency
    }
    shippingAddress {
      line1
      line2
      city
      postalCode
      country
    }
    availableShippingMethods {
      id
      name
      estimatedDays
      price {
        amount
        currency
      }
    }
    shippingMethod {
      id
    }
    discounts {
      code
      amount {
        amount
        currency
      }
    }
    shippingTotal {
      amount
      currency
    }
    taxLines {
      name
      rate
      amount {
        amount
        currency
      }
    }
    taxTotal {
      amount
      currency
    }
    total {
      amount
      currency
    }
    pricesIncludeTax
    items {
      quantity
      lineTotal {
        amount
        currency
      }
      product {
        id
        name
        imageUrl
      }
      variant {
        id
        title
        price {
          amount
          currency
        }
      }
    }
  }
`);

export const AddToCartDocument = graphql(`
  mutation AddToCart($variantId: ID!, $quantity: Int!) {
    addToCart(variantId: $variantId, quantity: $quantity) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const UpdateCartItemDocument = graphql(`
  mutation UpdateCartItem($variantId: ID!, $quantity: Int!) {
    updateCartItem(variantId: $variantId, quantity: $quantity) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const SetCartShippingAddressDocument = graphql(`
  mutation SetCartShippingAddress($address: AddressInput!) {
    setCartShippingAddress(address: $address) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const SetCartShippingMethodDocument = graphql(`
  mutation SetCartShippingMethod($id: ID!) {
    setCartShippingMethod(shippingMethodId: $id) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ApplyDiscountCodeDocument = graphql(`
  mutation ApplyDiscountCode($code: String!) {
    applyDiscountCode(code: $code) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RemoveDiscountCodeDocument = graphql(`
  mutation RemoveDiscountCode($code: String!) {
    removeDiscountCode(code: $code) {
      cart {
        ...CartFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const CheckoutDocument = graphql(`
  mutation Checkout($input: CheckoutInput!) {
    checkout(input: $input) {
      order {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const OrderFields = graphql(`
  fragment OrderFields on Order {
    id
    status
    statusReason
    createdAt
    total {
      amount
      currency
    }
    shippingAddress {
      line1
      line2
      city
      postalCode
      country
    }
    items {
      productName
      variantTitle
      sku
      quantity
      unitPrice {
        amount
        currency
      }
      lineTotal {
        amount
        currency
      }
    }
    history {
      status
      previousStatus
      reason
      at
    }
    payment {
      status
      failureReason
    }
  }
`);

export const OrderDocument = graphql(`
  query Order($id: ID!) {
    order(id: $id) {
      ...OrderFields
    }
  }
`);

export const OrderStatusDocument = graphql(`
  subscription OrderStatus($orderId: ID!) {
    orderStatusChanged(orderId: $orderId) {
      orderId
      status
      previousStatus
      reason
      at
    }
  }
`);

export const CancelOrderDocument = graphql(`
  mutation CancelOrder($id: ID!) {
    cancelOrder(id: $id) {
      order {
        ...OrderFields
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const OrdersDocument = graphql(`
  query Orders($first: Int, $after: String, $status: OrderStatus) {
    orders(first: $first, after: $after, status: $status) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        status
        createdAt
        total {
          amount
          currency
        }
        customer {
          id
        }
      }
    }
  }
`);

export const ShipOrderDocument = graphql(`
  mutation ShipOrder($id: ID!) {
    shipOrder(id: $id) {
      order {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DeliverOrderDocument = graphql(`
  mutation DeliverOrder($id: ID!) {
    deliverOrder(id: $id) {
      order {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const SetVariantStockDocument = graphql(`
  mutation SetVariantStock($variantId: ID!, $onHand: Int!) {
    setVariantStock(variantId: $variantId, onHand: $onHand) {
      productId
      stock {
        available
        onHand
        reserved
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const AdminStockDocument = graphql(`
  query AdminStock($query: String!) {
    search(query: $query, first: 10) {
      nodes {
        product {
          id
          name
          variants {
            id
            sku
            title
            stock {
              available
              onHand
              reserved
            }
          }
        }
      }
    }
  }
`);

export const NotificationsDocument = graphql(`
  query Notifications {
    notifications(first: 20) {
      totalCount
      nodes {
        id
        kind
        title
        body
        orderId
        read
        createdAt
      }
    }
  }
`);

export const UnreadCountDocument = graphql(`
  query UnreadCount {
    notifications(first: 1, unreadOnly: true) {
      totalCount
    }
  }
`);

export const MarkReadDocument = graphql(`
  mutation MarkRead($id: ID!) {
    markNotificationRead(id: $id) {
      notification {
        id
        read
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);
