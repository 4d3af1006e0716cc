<?php
/**
 * Command-line tool of the test WordPress (tests/wordpress.py), driven by JSON:
 *
 *     ICESCO_WP_SITE=en ICESCO_WP_HOST=127.0.0.1:PORT php tool.php WORDPRESS_ROOT < ops.json
 *
 * stdin is a JSON list of operations ({"op": NAME, ...arguments}); stdout is one JSON object,
 * {"ok": true, "results": [one result per operation]} or {"ok": false, "error": MESSAGE,
 * "index": N} (the operation that failed; those before it are done). Exit status 0 or 1.
 * Anything WordPress prints on the way goes to stderr.
 *
 * Operations: install, set_options, get_option, set_permalinks, add_category, categories,
 * delete_all_posts, switch_theme, add_post, edit_post, posts (see icesco_tool_op()).
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

$icesco_root = rtrim( (string) ( $argv[1] ?? '' ), '/' );
$icesco_site = (string) getenv( 'ICESCO_WP_SITE' );
$icesco_host = (string) getenv( 'ICESCO_WP_HOST' );
$icesco_ops  = json_decode( (string) stream_get_contents( STDIN ), true );

function icesco_tool_reply( array $reply ): void {
	fwrite( STDOUT, json_encode( $reply, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE ) . "\n" );
}

if ( ! is_file( $icesco_root . '/wp-load.php' ) || '' === $icesco_site || '' === $icesco_host || ! is_array( $icesco_ops ) ) {
	icesco_tool_reply( array( 'ok' => false, 'error' => 'usage: ICESCO_WP_SITE=.. ICESCO_WP_HOST=.. php tool.php WORDPRESS_ROOT < ops.json', 'index' => -1 ) );
	exit( 1 );
}

// What a web request to the site's front page would have.
$_SERVER['HTTP_HOST']       = $icesco_host;
$_SERVER['SERVER_NAME']     = explode( ':', $icesco_host )[0];
$_SERVER['SERVER_PORT']     = explode( ':', $icesco_host )[1] ?? '80';
$_SERVER['REQUEST_URI']     = '/' . $icesco_site . '/';
$_SERVER['REQUEST_METHOD']  = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REMOTE_ADDR']     = '127.0.0.1';
$_SERVER['PHP_SELF']        = '/' . $icesco_site . '/index.php';
$_SERVER['SCRIPT_NAME']     = $_SERVER['PHP_SELF'];

$icesco_installing = in_array( 'install', array_column( $icesco_ops, 'op' ), true );
if ( $icesco_installing ) {
	define( 'WP_INSTALLING', true );
}

ob_start(
	static function ( string $buffer ): string {
		if ( '' !== $buffer ) {
			fwrite( STDERR, $buffer );
		}
		return '';
	}
);

require $icesco_root . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/post.php';
require_once ABSPATH . 'wp-admin/includes/taxonomy.php';

if ( ! $icesco_installing && get_userdata( 1 ) ) {
	wp_set_current_user( 1 ); // The administrator: unfiltered_html, no kses on post content.
}

/** @throws RuntimeException */
function icesco_tool_check( $value, string $what ) {
	if ( is_wp_error( $value ) ) {
		throw new RuntimeException( $what . ': ' . $value->get_error_code() . ': ' . $value->get_error_message() );
	}
	if ( ! $value ) {
		throw new RuntimeException( $what . ' failed' );
	}
	return $value;
}

/** @return int[] */
function icesco_tool_category_ids( array $slugs ): array {
	$ids = array();
	foreach ( $slugs as $slug ) {
		$term = get_term_by( 'slug', $slug, 'category' );
		if ( ! $term ) {
			throw new RuntimeException( 'no category with slug ' . $slug );
		}
		$ids[] = (int) $term->term_id;
	}
	return $ids;
}

function icesco_tool_post( WP_Post $post ): array {
	$categories = array();
	foreach ( get_the_category( $post->ID ) as $term ) {
		$categories[] = rawurldecode( $term->slug );
	}
	return array(
		'id'            => $post->ID,
		'link'          => get_permalink( $post ),
		'slug'          => $post->post_name,
		'title'         => $post->post_title,
		'status'        => $post->post_status,
		'date'          => $post->post_date,
		'date_gmt'      => $post->post_date_gmt,
		'modified'      => $post->post_modified,
		'modified_gmt'  => $post->post_modified_gmt,
		'categories'    => $categories,
	);
}

/** Runs one operation; returns its result (JSON-encodable). */
function icesco_tool_op( array $op ) {
	global $wp_rewrite;
	switch ( $op['op'] ?? '' ) {
		case 'install':
			$result = wp_install( $op['title'], $op['user'], $op['email'], true, '', wp_slash( $op['password'] ) );
			wp_set_current_user( (int) $result['user_id'] );
			return array( 'user_id' => (int) $result['user_id'] );

		case 'set_options':
			foreach ( $op['options'] as $name => $value ) {
				update_option( $name, $value );
			}
			return count( $op['options'] );

		case 'get_option':
			return get_option( $op['name'] );

		case 'set_permalinks':
			$wp_rewrite->set_permalink_structure( $op['structure'] );
			$wp_rewrite->set_category_base( $op['category_base'] ?? '' );
			$wp_rewrite->set_tag_base( $op['tag_base'] ?? '' );
			flush_rewrite_rules( false ); // Soft: never write .htaccess.
			return get_option( 'permalink_structure' );

		case 'add_category':
			$term = icesco_tool_check(
				wp_insert_term( $op['name'], 'category', array( 'slug' => $op['slug'], 'description' => $op['description'] ?? '' ) ),
				'add_category ' . $op['slug']
			);
			$category = get_term( (int) $term['term_id'], 'category' );
			return array(
				'id'   => $category->term_id,
				'slug' => rawurldecode( $category->slug ),
				'name' => $category->name,
				'link' => get_category_link( $category ),
			);

		case 'categories':
			$out = array();
			foreach ( get_categories( array( 'hide_empty' => false ) ) as $category ) {
				$out[] = array(
					'id'         => $category->term_id,
					'slug'       => rawurldecode( $category->slug ),
					'slug_db'    => $category->slug,
					'name'       => $category->name,
					'link'       => get_category_link( $category ),
					'count'      => $category->count,
				);
			}
			return $out;

		case 'delete_all_posts':
			$ids = get_posts(
				array(
					'post_type'   => array( 'post', 'page' ),
					'post_status' => 'any',
					'numberposts' => -1,
					'fields'      => 'ids',
				)
			);
			foreach ( $ids as $id ) {
				wp_delete_post( $id, true );
			}
			update_option( 'wp_page_for_privacy_policy', 0 );
			return count( $ids );

		case 'switch_theme':
			$theme = wp_get_theme( $op['name'] );
			if ( ! $theme->exists() || ! $theme->is_allowed() ) {
				throw new RuntimeException( 'no such theme: ' . $op['name'] );
			}
			switch_theme( $op['name'] );
			return get_stylesheet();

		case 'add_post':
			$date = $op['date'];
			$data = array(
				'post_type'      => 'post',
				'post_status'    => $op['status'] ?? 'publish',
				'post_title'     => $op['title'],
				'post_content'   => $op['content'],
				'post_excerpt'   => $op['excerpt'] ?? '',
				'post_date'      => $date,
				'post_date_gmt'  => get_gmt_from_date( $date ),
				'post_category'  => icesco_tool_category_ids( $op['categories'] ?? array() ),
				'post_author'    => 1,
				'comment_status' => 'closed',
				'ping_status'    => 'closed',
			);
			if ( ! empty( $op['slug'] ) ) {
				$data['post_name'] = $op['slug'];
			}
			$id   = icesco_tool_check( wp_insert_post( wp_slash( $data ), true ), 'add_post ' . $op['title'] );
			$post = get_post( $id );
			return array(
				'id'   => $post->ID,
				'link' => get_permalink( $post ),
				'slug' => $post->post_name,
			);

		case 'edit_post':
			$post = get_post( (int) $op['id'] );
			if ( ! $post ) {
				throw new RuntimeException( 'no post ' . $op['id'] );
			}
			$data = array( 'ID' => $post->ID );
			foreach ( array( 'title' => 'post_title', 'content' => 'post_content', 'excerpt' => 'post_excerpt' ) as $key => $field ) {
				if ( isset( $op[ $key ] ) ) {
					$data[ $field ] = $op[ $key ];
				}
			}
			icesco_tool_check( wp_update_post( wp_slash( $data ), true ), 'edit_post ' . $post->ID );
			clean_post_cache( $post->ID );
			return icesco_tool_post( get_post( $post->ID ) );

		case 'posts':
			$posts = get_posts(
				array(
					'post_type'   => 'post',
					'post_status' => $op['status'] ?? 'publish',
					'numberposts' => -1,
					'orderby'     => 'date',
					'order'       => 'DESC',
				)
			);
			return array_map( 'icesco_tool_post', $posts );

		default:
			throw new RuntimeException( 'unknown op: ' . json_encode( $op['op'] ?? null ) );
	}
}

$icesco_results = array();
foreach ( $icesco_ops as $icesco_index => $icesco_op ) {
	try {
		$icesco_results[] = icesco_tool_op( $icesco_op );
	} catch ( Throwable $icesco_error ) {
		ob_end_flush();
		icesco_tool_reply(
			array(
				'ok'    => false,
				'error' => get_class( $icesco_error ) . ': ' . $icesco_error->getMessage(),
				'index' => $icesco_index,
			)
		);
		exit( 1 );
	}
}
ob_end_flush();
icesco_tool_reply( array( 'ok' => true, 'results' => $icesco_results ) );
exit( 0 );
